import { randomUUID } from 'node:crypto';
import { AppError } from '../errors/index.js';
import { RegisterBody } from '../protocol/index.js';
import { isAdminEmail } from './emails.js';
import { checkNewPassword } from './password-policy.js';
import type { PasswordHasher } from './passwords.js';
import type { UserRecord, UserStore } from './ports.js';

/** An account as administration shows it: never its password hash. */
export interface UserView {
  readonly id: string;
  readonly email: string;
  readonly displayName: string | null;
  readonly isAdmin: boolean;
  readonly isDemo: boolean;
  readonly createdAt: string;
  readonly disabledAt: string | null;
}

/**
 * Whether running servers were told to close a disabled user's sockets: `not_needed` (no session was open),
 * `no_channel` (no Redis: servers learn it when the access tokens expire), `told`, or `failed`.
 */
type Announcement =
  { readonly kind: 'not_needed' | 'no_channel' | 'told' } | { readonly kind: 'failed'; readonly error: unknown };

export interface UserAdminDeps {
  readonly users: UserStore;
  readonly passwords: PasswordHasher;
  readonly adminEmails: readonly string[];
  /** Tells running servers to close the sockets of these sessions; undefined when nothing can reach them. */
  readonly announceRevocations: ((sessionIds: readonly string[]) => Promise<void>) | undefined;
  readonly now: () => number;
}

/** Account administration outside requests (the CLI): the same rules as POST /auth/register and the admin rule. */
export class UserAdmin {
  constructor(private readonly deps: UserAdminDeps) {}

  /** Creates an account; `invalid_request` for what register refuses, `email_taken` for a taken email. */
  async create(input: { email: string; password: string; displayName?: string | undefined }): Promise<UserView> {
    const body = RegisterBody.safeParse(input);
    if (!body.success) throw new AppError('invalid_request', body.error.issues.map((i) => i.message).join('; '));
    checkNewPassword(body.data.password, body.data.email);
    const record: UserRecord = {
      id: randomUUID(),
      email: body.data.email,
      passwordHash: await this.deps.passwords.hash(body.data.password),
      displayName: body.data.displayName ?? null,
      isDemo: false,
      createdAt: new Date(this.deps.now()).toISOString(),
      disabledAt: null,
    };
    await this.deps.users.create(record);
    return this.view(record);
  }

  /** Every account, oldest first; demo accounts only with `includeDemo`. */
  async list(options: { readonly includeDemo?: boolean } = {}): Promise<UserView[]> {
    return (await this.deps.users.list(options)).map((u) => this.view(u));
  }

  /**
   * Disables an account and revokes its sessions (login, refresh and its access tokens are refused from now on),
   * then tells running servers to close its sockets. Undefined for an unknown email.
   */
  async disable(
    email: string,
  ): Promise<{ user: UserView; revokedSessions: number; announcement: Announcement } | undefined> {
    const user = await this.deps.users.findByEmail(email);
    if (user === undefined) return undefined;
    const result = await this.deps.users.disable(user.id, new Date(this.deps.now()).toISOString());
    if (result === undefined) return undefined;
    const sessions = result.revokedSessions;
    const done = (announcement: Announcement) => ({
      user: this.view(user),
      revokedSessions: sessions.length,
      announcement,
    });
    if (sessions.length === 0) return done({ kind: 'not_needed' });
    if (this.deps.announceRevocations === undefined) return done({ kind: 'no_channel' });
    try {
      await this.deps.announceRevocations(sessions);
      return done({ kind: 'told' });
    } catch (error) {
      return done({ kind: 'failed', error });
    }
  }

  /** Lets an account log in again (revoked sessions stay revoked). Undefined for an unknown email. */
  async enable(email: string): Promise<UserView | undefined> {
    const user = await this.deps.users.findByEmail(email);
    if (user === undefined || !(await this.deps.users.enable(user.id))) return undefined;
    return this.view(user);
  }

  private view(u: UserRecord): UserView {
    return {
      id: u.id,
      email: u.email,
      displayName: u.displayName,
      isAdmin: isAdminEmail(this.deps.adminEmails, u.email),
      isDemo: u.isDemo,
      createdAt: u.createdAt,
      disabledAt: u.disabledAt,
    };
  }
}
