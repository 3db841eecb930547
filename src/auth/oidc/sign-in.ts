import { AppError } from '../../errors/index.js';
import type { AuthResponse } from '../../protocol/index.js';
import type { AuthService } from '../auth-service.js';
import type { AttemptLimiter, OneTimeStore } from '../ports.js';
import { hashSecret, newOpaqueSecret } from '../secrets.js';
import type { AuthorizationChecks, RelyingParty } from './relying-party.js';

/** A sign-in between start and callback, keyed by the hash of its `state`. */
export interface PendingSignIn {
  /** Hash of the browser cookie that started it. */
  readonly browser: string;
  readonly checks: AuthorizationChecks;
  readonly returnTo: string;
  readonly expiresAt: number;
}

/** A login code between callback and exchange, keyed by its hash. */
export interface LoginCode {
  readonly userId: string;
  readonly browser: string;
  readonly expiresAt: number;
}

export interface OidcSignInDeps {
  readonly relyingParty: RelyingParty;
  readonly pending: OneTimeStore<PendingSignIn>;
  readonly codes: OneTimeStore<LoginCode>;
  readonly auth: AuthService;
  /** The login limiter: start and exchange count as login attempts. */
  readonly ipLimiter: AttemptLimiter;
  /** `<PUBLIC_URL>/auth/oidc/callback`, known once the server listens. */
  readonly redirectUri: () => string;
  readonly now: () => number;
}

/** CONTRACT: a sign-in expires within 10 minutes; its login code after 60 s. */
const SIGN_IN_TTL_MS = 10 * 60_000;
const LOGIN_CODE_TTL_MS = 60_000;

/**
 * The browser side of OpenID Connect sign-in. Start sends the browser to the provider with a fresh cookie that
 * binds the sign-in to it; the callback is accepted once, from that browser only, and ends with a single-use login
 * code (never a token in a URL) that the same browser exchanges for the usual login body. Every failure redirects
 * back with `login_error` and issues nothing.
 */
export class OidcSignIn {
  constructor(private readonly deps: OidcSignInDeps) {}

  /** Where to send the browser, and the cookie value binding the sign-in to it. */
  async start(returnTo: unknown, ip: string): Promise<{ location: string; browserSecret: string }> {
    await this.deps.ipLimiter.consume(`login:${ip}`);
    const browserSecret = newOpaqueSecret('br_');
    let authorization;
    try {
      authorization = await this.deps.relyingParty.authorizationUrl(this.deps.redirectUri());
    } catch (err) {
      throw new AppError('service_unavailable', 'The sign-in provider cannot be reached right now.', { cause: err });
    }
    await storing(
      this.deps.pending.put(hashSecret(authorization.checks.state), {
        browser: hashSecret(browserSecret),
        checks: authorization.checks,
        returnTo: safeReturnTo(returnTo),
        expiresAt: this.deps.now() + SIGN_IN_TTL_MS,
      }),
    );
    return { location: authorization.url.href, browserSecret };
  }

  /** The provider sent the browser back: where to send it now (returnTo with login_code, or with login_error). */
  async callback(callbackUrl: URL, browserSecret: string | undefined): Promise<{ location: string; ok: boolean }> {
    const state = callbackUrl.searchParams.get('state');
    const pending =
      state === null ? undefined : await storing(this.deps.pending.consume(hashSecret(state), this.deps.now()));
    if (pending === undefined) return failed('/', 'invalid_oidc_callback');
    if (browserSecret === undefined || hashSecret(browserSecret) !== pending.browser)
      return failed(pending.returnTo, 'invalid_oidc_callback');
    if (callbackUrl.searchParams.get('error') === 'access_denied') return failed(pending.returnTo, 'access_denied');
    let userId: string;
    try {
      const { identity, profile } = await this.deps.relyingParty.finish(callbackUrl, pending.checks);
      userId = (await this.deps.auth.userForIdentity(identity, profile)).id;
    } catch {
      return failed(pending.returnTo, 'invalid_oidc_callback');
    }
    const code = newOpaqueSecret('lc_');
    await storing(
      this.deps.codes.put(hashSecret(code), {
        userId,
        browser: pending.browser,
        expiresAt: this.deps.now() + LOGIN_CODE_TTL_MS,
      }),
    );
    return { location: withQuery(pending.returnTo, 'login_code', code), ok: true };
  }

  /** The login code, from the browser it was issued to, for a login (once). */
  async exchange(code: unknown, browserSecret: string | undefined, ip: string): Promise<AuthResponse> {
    await this.deps.ipLimiter.consume(`login:${ip}`);
    // CONTRACT: a malformed code is refused like any other bad one (401), after counting as an attempt.
    if (typeof code !== 'string' || code === '' || code.length > 512)
      throw new AppError('invalid_login_code', 'This login code is unknown, expired, used, or not for this browser.');
    // Consumed before the browser check: a code shown to the wrong browser is spent, never tried again.
    const record = await storing(this.deps.codes.consume(hashSecret(code), this.deps.now()));
    if (record === undefined || browserSecret === undefined || hashSecret(browserSecret) !== record.browser)
      throw new AppError('invalid_login_code', 'This login code is unknown, expired, used, or not for this browser.');
    return this.deps.auth.signInAs(record.userId);
  }
}

/** The sign-in store (memory, or Redis) failed: the caller may try again shortly. */
async function storing<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (err) {
    throw new AppError('service_unavailable', 'Sign-in cannot be completed right now: try again shortly.', {
      cause: err,
    });
  }
}

function failed(returnTo: string, code: string): { location: string; ok: boolean } {
  return { location: withQuery(returnTo, 'login_error', code), ok: false };
}

/**
 * CONTRACT: a path starting with a single `/`, without `\` or control characters (nor spaces or non-ASCII, which a
 * Location header cannot carry unencoded); anything else is `/`. So no
 * `//evil.example` (protocol-relative), `/\evil.example` (read as `//` by browsers) or header injection.
 */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//')) return '/';
  // Printable ASCII only: control characters could split headers, `\` reads as `/`, and anything above 0x7e is
  // refused by Node in a Location header (a 500 after the user was signed in).
  if (!/^[\x21-\x7e]+$/.test(value) || value.includes('\\')) return '/';
  return value;
}

/**
 * Appends a parameter without parsing the path: a URL parser would normalize `/.//evil.example` into
 * `//evil.example`, which a browser reads as another host.
 */
function withQuery(path: string, name: string, value: string): string {
  const hashAt = path.indexOf('#');
  const base = hashAt < 0 ? path : path.slice(0, hashAt);
  const fragment = hashAt < 0 ? '' : path.slice(hashAt);
  return `${base}${base.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}${fragment}`;
}
