import type { AuthResponse, PublicUser } from '../protocol/wire/index.js';
import { ClientError } from './errors.js';
import type { HttpApi } from './http.js';

/** Codes after which the login is over: the refresh token cannot be used again. */
const SESSION_ENDING_CODES: ReadonlySet<string> = new Set([
  'invalid_refresh_token',
  'refresh_token_reused',
  'session_revoked',
]);

export function endsSession(err: unknown): boolean {
  return err instanceof ClientError && SESSION_ENDING_CODES.has(err.code);
}

const DEFAULT_LEAD_MS = 60_000;

export interface SessionOptions {
  readonly onRefreshToken?: (refreshToken: string | null) => void;
  readonly refreshLeadMs?: number;
  /** The login ended (refresh refused, or the server revoked it): the client closes its socket. */
  readonly onEnded: (reason: ClientError) => void;
}

interface AccessToken {
  readonly token: string;
  /** Local clock. Derived from `expiresIn`, so a wrong client clock does not matter. */
  readonly expiresAtMs: number;
  readonly lifetimeMs: number;
}

/**
 * The login: the user, an access token kept in memory only, and the refresh token. Refreshes are single-flight:
 * the server treats two concurrent refreshes with one token as reuse and revokes the whole login.
 */
export class Session {
  user: PublicUser | null = null;
  private access: AccessToken | undefined;
  private refreshToken: string | undefined;
  private refreshing: Promise<string> | undefined;
  /** Bumped whenever the login changes, so a refresh that finishes after a logout is dropped. */
  private generation = 0;

  constructor(
    private readonly http: HttpApi,
    private readonly options: SessionOptions,
  ) {}

  get active(): boolean {
    return this.refreshToken !== undefined || this.access !== undefined;
  }

  get currentRefreshToken(): string | undefined {
    return this.refreshToken;
  }

  adopt(auth: AuthResponse): PublicUser {
    const lifetimeMs = auth.expiresIn * 1000;
    this.access = { token: auth.accessToken, expiresAtMs: Date.now() + lifetimeMs, lifetimeMs };
    this.user = auth.user;
    if (auth.refreshToken !== this.refreshToken) {
      this.refreshToken = auth.refreshToken;
      this.options.onRefreshToken?.(auth.refreshToken);
    }
    return auth.user;
  }

  /** Starts from a stored refresh token alone (the access token comes from the first refresh). */
  startFrom(refreshToken: string): void {
    this.clear(false);
    this.refreshToken = refreshToken;
  }

  /** Forgets everything; tells the page to drop its stored refresh token. */
  clear(notify = true): void {
    const had = this.refreshToken !== undefined;
    this.generation += 1;
    this.access = undefined;
    this.refreshToken = undefined;
    this.refreshing = undefined;
    this.user = null;
    if (notify && had) this.options.onRefreshToken?.(null);
  }

  /** Local time at which `token` expires, when it is the current token. */
  expiryOf(token: string): number | undefined {
    return this.access?.token === token ? this.access.expiresAtMs : undefined;
  }

  /** A valid access token, refreshed shortly before expiry. */
  async accessToken(): Promise<string> {
    const access = this.access;
    if (access !== undefined && access.expiresAtMs - Date.now() > this.leadMs(access)) return access.token;
    return this.refresh();
  }

  /**
   * A token other than `stale` (which the server refused or is about to expire): the current one when a refresh
   * already replaced `stale` and it is not itself close to expiry, else a new one.
   */
  async freshToken(stale: string | undefined): Promise<string> {
    const access = this.access;
    if (access !== undefined && access.token !== stale && access.expiresAtMs - Date.now() > this.leadMs(access))
      return access.token;
    return this.refresh();
  }

  /** Bearer HTTP call; a `token_expired` answer (clock skew, a token that expired in flight) refreshes and retries once. */
  async authed<T>(method: string, path: string, body?: unknown): Promise<T> {
    const token = await this.accessToken();
    try {
      return await this.http.call<T>(method, path, { token, ...(body === undefined ? {} : { body }) });
    } catch (err) {
      if (!(err instanceof ClientError) || err.code !== 'token_expired') throw err;
      return this.http.call<T>(method, path, {
        token: await this.freshToken(token),
        ...(body === undefined ? {} : { body }),
      });
    }
  }

  private refresh(): Promise<string> {
    this.refreshing ??= this.rotate().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async rotate(): Promise<string> {
    const refreshToken = this.refreshToken;
    if (refreshToken === undefined)
      throw new ClientError('not_authenticated', 'Not logged in: call login(), register(), demo() or restore() first.');
    const generation = this.generation;
    let auth: AuthResponse;
    try {
      auth = await this.http.call<AuthResponse>('POST', '/auth/refresh', { body: { refreshToken } });
    } catch (err) {
      if (generation === this.generation && endsSession(err)) this.end(err as ClientError);
      throw err;
    }
    if (generation !== this.generation)
      throw new ClientError('client_closed', 'The login changed while its token was being refreshed.');
    this.adopt(auth);
    return auth.accessToken;
  }

  /** The server ended the login (revoked, reused, or the user is disabled). */
  end(reason: ClientError): void {
    if (!this.active) return;
    this.clear();
    this.options.onEnded(reason);
  }

  private leadMs(access: AccessToken): number {
    const lead = this.options.refreshLeadMs;
    // Never more than half the lifetime, or every token would look stale the moment it arrives.
    return lead === undefined
      ? Math.min(DEFAULT_LEAD_MS, access.lifetimeMs / 4)
      : Math.min(lead, access.lifetimeMs / 2);
  }
}
