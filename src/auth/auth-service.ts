import type { Telemetry } from '../telemetry/index.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { AppError } from '../errors/index.js';
import type {
  AuthResponse,
  AuthStatsResponse,
  ChangePasswordBody,
  LoginBody,
  PublicUser,
  RegisterBody,
  SessionSummary,
} from '../protocol/index.js';
import type { AccessClaims, AccessTokens } from './access-tokens.js';
import type { DependencyGuard } from './dependency-guard.js';
import { isAdminEmail, normalizeEmail } from './emails.js';
import { checkNewPassword } from './password-policy.js';
import type { PasswordHasher } from './passwords.js';
import type { ExternalTokens } from './external-tokens.js';
import { IdentityAccounts, type IdentityProfile } from './identity-accounts.js';
import type { AttemptLimiter, ExternalIdentity, RevocationBus, TokenStore, UserRecord, UserStore } from './ports.js';
import { hashSecret, newOpaqueSecret } from './secrets.js';
import type { SessionCache } from './session-cache.js';

/** Sessions of external tokens: never a refresh family id (those are UUIDs). */
const EXTERNAL_SESSION_PREFIX = 'ext:';

/** An authenticated caller. Identity always comes from here, never from a request body. */
export type Principal = AccessClaims;

export interface AuthServiceDeps {
  readonly users: UserStore;
  readonly tokens: TokenStore;
  readonly accessTokens: AccessTokens;
  readonly passwords: PasswordHasher;
  readonly revocations: RevocationBus;
  /** Login, register and demo attempts per IP. */
  readonly ipLimiter: AttemptLimiter;
  /** Login attempts per account. */
  readonly accountLimiter: AttemptLimiter;
  /** Refresh attempts per IP: refresh tokens must not be guessable at speed. */
  readonly refreshLimiter: AttemptLimiter;
  readonly refreshTtlSeconds: number;
  /** A login's absolute lifetime: its refresh and access tokens never outlive it. */
  readonly sessionMaxAgeSeconds: number;
  readonly accessTtlSeconds: number;
  readonly adminEmails: readonly string[];
  /** Wraps every store call: store faults become service_unavailable and trip the circuit. */
  readonly guard: DependencyGuard;
  /** EXTERNAL_JWT_*: the identity provider's own access tokens, accepted as access tokens. */
  readonly externalTokens?: ExternalTokens | undefined;
  /** Answers session checks from memory kept current by the revocation bus (only where the bus spans processes). */
  readonly sessionCache?: SessionCache | undefined;
  /** Validations and refresh reuse, for Prometheus as for GET /auth/stats. */
  readonly telemetry: Telemetry;
  readonly now: () => number;
}

export class AuthService {
  readonly counters = {
    totalValidations: 0,
    reuseAttemptsBlocked: 0,
    concurrentUsageDetected: 0,
    tokensExpiredCleanup: 0,
  };

  private readonly identities: IdentityAccounts;

  constructor(private readonly deps: AuthServiceDeps) {
    this.identities = new IdentityAccounts(deps.users, deps.passwords, deps.now);
  }

  /** The user an identity provider's (issuer, sub) stands for: found, linked by verified email, or created. */
  async userForIdentity(identity: ExternalIdentity, profile: IdentityProfile): Promise<UserRecord> {
    return this.guarded(() => this.identities.userFor(identity, profile));
  }

  /** A new login for a user an identity provider vouched for (OIDC sign-in, after its login code). */
  async signInAs(userId: string): Promise<AuthResponse> {
    const user = await this.guarded(() => this.deps.users.findById(userId));
    if (user === undefined || user.disabledAt !== null)
      throw new AppError('forbidden', 'This account is disabled or no longer exists.');
    return this.startSession(user);
  }

  async register(body: RegisterBody, ip: string): Promise<AuthResponse> {
    await this.deps.ipLimiter.consume(`register:${ip}`);
    checkNewPassword(body.password, body.email);
    const user: UserRecord = {
      id: randomUUID(),
      email: body.email,
      passwordHash: await this.deps.passwords.hash(body.password),
      displayName: body.displayName ?? null,
      isDemo: false,
      createdAt: this.isoNow(),
      disabledAt: null,
    };
    await this.guarded(() => this.deps.users.create(user));
    return this.startSession(user);
  }

  async login(body: LoginBody, ip: string): Promise<AuthResponse> {
    await this.deps.ipLimiter.consume(`login:${ip}`);
    await this.deps.accountLimiter.consume(`login:${normalizeEmail(body.email)}`);
    const user = await this.guarded(() => this.deps.users.findByEmail(body.email));
    // Unknown email, wrong password and disabled account answer alike, after one argon2 verification each.
    const ok = await this.deps.passwords.verify(user?.passwordHash, body.password);
    if (!ok || user === undefined || user.disabledAt !== null) {
      throw new AppError('invalid_credentials', 'Email or password is incorrect.');
    }
    await this.deps.accountLimiter.reset(`login:${normalizeEmail(body.email)}`);
    return this.startSession(user);
  }

  async demo(ip: string): Promise<AuthResponse> {
    // Each demo costs an argon2 hash and a user row: limited like register.
    await this.deps.ipLimiter.consume(`demo:${ip}`);
    const id = randomUUID();
    const user: UserRecord = {
      id,
      email: `demo-${id}@demo.agentgate.invalid`,
      // A random password nobody knows: demo identities can only be used through the tokens issued here.
      passwordHash: await this.deps.passwords.hash(randomBytes(32).toString('base64url')),
      displayName: 'Demo user',
      isDemo: true,
      createdAt: this.isoNow(),
      disabledAt: null,
    };
    await this.guarded(() => this.deps.users.create(user));
    return this.startSession(user);
  }

  async refresh(refreshToken: string, ip: string): Promise<AuthResponse> {
    await this.deps.refreshLimiter.consume(`refresh:${ip}`);
    const receivedAt = this.isoNow();
    const tokenHash = hashSecret(refreshToken);
    const family = await this.guarded(() => this.deps.tokens.findFamilyByToken(tokenHash));
    const sessionEndsAt = family === undefined ? this.deps.now() : this.sessionEnd(family.createdAt);
    if (family !== undefined && sessionEndsAt <= this.deps.now()) {
      await this.revokeSession(family.familyId, 'session_expired');
      throw new AppError(
        'invalid_refresh_token',
        'This login has reached its maximum age (SESSION_MAX_AGE_SECONDS): log in again.',
      );
    }
    const next = this.newRefreshToken(sessionEndsAt);
    const result = await this.guarded(() => this.deps.tokens.rotate(tokenHash, next.record, receivedAt));
    if (result.kind === 'reused') {
      this.counters.reuseAttemptsBlocked += 1;
      this.deps.telemetry.authEvent('refresh_reuse');
      // Arrived before the token was spent: two refreshes raced (e.g. two tabs). Still revoked (RFC 9700 cannot
      // tell a racing tab from a racing thief), but counted apart so operators can see it happening.
      if (result.spentAt >= receivedAt) {
        this.counters.concurrentUsageDetected += 1;
        this.deps.telemetry.authEvent('concurrent_refresh');
      }
      await this.announceRevocation(result.familyId);
      throw new AppError(
        'refresh_token_reused',
        'This refresh token was already used: every token of this login has been revoked. Log in again.',
      );
    }
    const user =
      result.kind === 'rotated' ? await this.guarded(() => this.deps.users.findById(result.userId)) : undefined;
    if (result.kind === 'invalid' || user === undefined || user.disabledAt !== null) {
      throw new AppError('invalid_refresh_token', 'The refresh token is not valid.');
    }
    return this.issue(user, result.familyId, next.token, sessionEndsAt);
  }

  async logout(principal: Principal, refreshToken: string): Promise<void> {
    const family = await this.guarded(() => this.deps.tokens.findFamilyByToken(hashSecret(refreshToken)));
    if (family === undefined || family.userId !== principal.userId) {
      throw new AppError('invalid_refresh_token', 'The refresh token is not valid.');
    }
    await this.revokeSession(family.familyId, 'logout');
  }

  /** The user's live logins, the one this request comes from marked `current`. */
  async sessions(principal: Principal): Promise<SessionSummary[]> {
    const live = await this.guarded(() => this.deps.tokens.listSessions(principal.userId, this.isoNow()));
    return live.map((s) => ({ ...s, current: s.id === principal.sessionId }));
  }

  /** Ends one login of the user; another user's, or one already ended, is `not_found` (no existence leak). */
  async endSession(principal: Principal, sessionId: string): Promise<void> {
    if (!(await this.sessions(principal)).some((s) => s.id === sessionId)) {
      throw new AppError('not_found', 'No such session.');
    }
    await this.revokeSession(sessionId, 'logout');
  }

  /** "Log out everywhere": every login of the user ends, the asking one included. */
  async endAllSessions(principal: Principal): Promise<void> {
    const ended = await this.guarded(() =>
      this.deps.tokens.revokeUserFamilies(principal.userId, 'logout_everywhere', this.isoNow()),
    );
    await Promise.all(ended.map((familyId) => this.announceRevocation(familyId)));
  }

  /**
   * Replaces the password once the current one is proven (a stolen access token alone cannot), ends every login of
   * the user (whoever else knew the old password is out), and starts a new one for the asker.
   */
  async changePassword(principal: Principal, body: ChangePasswordBody, ip: string): Promise<AuthResponse> {
    const user = await this.provePassword(principal, body.currentPassword, ip);
    checkNewPassword(body.newPassword, user.email);
    const passwordHash = await this.deps.passwords.hash(body.newPassword);
    await this.guarded(() => this.deps.users.setPasswordHash(user.id, passwordHash));
    await this.endAllSessions(principal);
    await this.deps.accountLimiter.reset(`password:${principal.userId}`);
    return this.startSession({ ...user, passwordHash });
  }

  /**
   * Proves the user is at the keyboard before something that cannot be undone: their password (a stolen access
   * token alone is not enough). Demo users have no password anyone knows: their token is enough.
   */
  async confirmIdentity(principal: Principal, password: string | undefined, ip: string): Promise<void> {
    await this.provePassword(principal, password ?? '', ip, { demoNeedsNone: true });
  }

  /** The user, once `password` is theirs (or, when allowed, a demo user): limited per IP and per user. */
  private async provePassword(
    principal: Principal,
    password: string,
    ip: string,
    options: { readonly demoNeedsNone?: boolean } = {},
  ): Promise<UserRecord> {
    await this.deps.ipLimiter.consume(`password:${ip}`);
    await this.deps.accountLimiter.consume(`password:${principal.userId}`);
    const user = await this.guarded(() => this.deps.users.findById(principal.userId));
    if (options.demoNeedsNone === true && user?.isDemo === true) return user;
    const ok = await this.deps.passwords.verify(user?.passwordHash, password);
    if (!ok || user === undefined || user.disabledAt !== null) {
      throw new AppError('invalid_credentials', 'The password is incorrect.');
    }
    return user;
  }

  /** Deletes the account and everything of it; its sockets close (1008 `session revoked`), its tokens are refused. */
  async deleteAccount(principal: Principal): Promise<void> {
    await this.endAllSessions(principal);
    await this.guarded(() => this.deps.users.delete(principal.userId));
  }

  async revokeSession(familyId: string, reason: string): Promise<void> {
    await this.guarded(() => this.deps.tokens.revokeFamily(familyId, reason, this.isoNow()));
    await this.announceRevocation(familyId);
  }

  /**
   * Tells every instance to close the session's sockets and forget it as active. The revocation itself is already
   * stored, so a bus that cannot take the message now does not fail the request: it is retried every second for as
   * long as a socket of that session could live. Resolves after the first attempt, so the request that revoked
   * answers only once that attempt is done (published, or failed and left to the retries).
   */
  private announceRevocation(familyId: string): Promise<void> {
    // This instance stops trusting the session now; the others when the announcement reaches them.
    this.deps.sessionCache?.forget(familyId);
    const giveUpAt = this.deps.now() + this.deps.accessTtlSeconds * 1000;
    const attempt = (): Promise<void> =>
      this.deps.revocations.publish(familyId).catch(() => {
        if (this.deps.now() < giveUpAt) setTimeout(() => void attempt(), 1_000).unref();
      });
    return attempt();
  }

  /** Verifies an access token and that its session and user still exist. Storage failures become 503, not 401. */
  async authenticate(accessToken: string): Promise<Principal> {
    this.counters.totalValidations += 1;
    this.deps.telemetry.authEvent('validation');
    const nowSeconds = Math.floor(this.deps.now() / 1000);
    const external = this.deps.externalTokens;
    if (external?.claimsIssuer(accessToken) === true) {
      const claims = await external.verify(accessToken, nowSeconds);
      const user = await this.userForIdentity(claims.identity, claims.profile);
      if (user.disabledAt !== null) throw new AppError('invalid_token', 'This account is disabled.');
      return {
        userId: user.id,
        sessionId: `${EXTERNAL_SESSION_PREFIX}${claims.tokenId}`,
        tokenId: claims.tokenId,
        expiresAt: claims.expiresAt,
      };
    }
    const claims = await this.deps.accessTokens.verify(accessToken, nowSeconds);
    await this.requireActiveSession(claims.sessionId, claims.userId);
    return claims;
  }

  /** For readiness: one cheap read of the user store, through the circuit breaker; throws service_unavailable. */
  async checkStores(): Promise<void> {
    await this.guarded(() => this.deps.users.findById('readiness-probe'));
  }

  /** Throws invalid_token when the session was revoked or its user is gone or disabled. */
  async requireActiveSession(sessionId: string, userId: string): Promise<void> {
    // An external token has no session here to revoke: it holds while its user does, until its exp.
    if (sessionId.startsWith(EXTERNAL_SESSION_PREFIX)) {
      const user = await this.guarded(() => this.deps.users.findById(userId));
      if (user === undefined || user.disabledAt !== null)
        throw new AppError('invalid_token', 'The user of this credential no longer exists or is disabled.');
      return;
    }
    const read = () => this.guarded(() => this.deps.tokens.isSessionActive(sessionId, userId));
    const cache = this.deps.sessionCache;
    const active = await (cache === undefined ? read() : cache.isActive(sessionId, userId, read));
    if (!active) throw new AppError('invalid_token', 'The session of this credential has ended.');
  }

  async currentUser(principal: Principal): Promise<PublicUser> {
    const user = await this.guarded(() => this.deps.users.findById(principal.userId));
    if (user === undefined) throw new AppError('invalid_token', 'The user of this access token no longer exists.');
    return this.toPublic(user);
  }

  async isAdmin(principal: Principal): Promise<boolean> {
    const user = await this.guarded(() => this.deps.users.findById(principal.userId));
    return user !== undefined && isAdminEmail(this.deps.adminEmails, user.email);
  }

  /** Deletes the demo users created before `before` (DEMO_USER_RETENTION_HOURS); their sockets close. */
  async purgeDemoUsers(before: string, limit: number): Promise<number> {
    const { deleted, sessions } = await this.guarded(() => this.deps.users.deleteDemoUsers(before, limit));
    await Promise.all(sessions.map((familyId) => this.announceRevocation(familyId)));
    return deleted;
  }

  /** Deletes refresh tokens past their expiry (they can no longer be used or replayed). */
  async cleanupExpired(): Promise<number> {
    const deleted = await this.deps.tokens.deleteExpired(this.isoNow());
    this.counters.tokensExpiredCleanup += deleted;
    this.deps.telemetry.authEvent('expired_tokens_deleted', deleted);
    return deleted;
  }

  async stats(): Promise<AuthStatsResponse> {
    const now = this.deps.now();
    const sessions = await this.deps.tokens.stats(new Date(now).toISOString());
    return {
      ...this.counters,
      activeTokenSessions: sessions.activeSessions,
      activeSessionsByUser: sessions.activeSessionsByUser,
      oldestSessionAgeSeconds:
        sessions.oldestSessionCreatedAt === null
          ? 0
          : Math.floor((now - Date.parse(sessions.oldestSessionCreatedAt)) / 1000),
    };
  }

  private guarded<T>(call: () => Promise<T>): Promise<T> {
    return this.deps.guard.run(call);
  }

  private async startSession(user: UserRecord): Promise<AuthResponse> {
    const familyId = randomUUID();
    const sessionEndsAt = this.sessionEnd(this.isoNow());
    const first = this.newRefreshToken(sessionEndsAt);
    await this.guarded(() =>
      this.deps.tokens.createFamily(
        { id: familyId, userId: user.id, createdAt: this.isoNow() },
        { ...first.record, familyId },
      ),
    );
    return this.issue(user, familyId, first.token, sessionEndsAt);
  }

  /** When a login started at `createdAt` ends, in ms. */
  private sessionEnd(createdAt: string): number {
    return Date.parse(createdAt) + this.deps.sessionMaxAgeSeconds * 1000;
  }

  private async issue(
    user: UserRecord,
    familyId: string,
    refreshToken: string,
    sessionEndsAt: number,
  ): Promise<AuthResponse> {
    const nowSeconds = Math.floor(this.deps.now() / 1000);
    const { token, expiresAt } = await this.deps.accessTokens.sign(
      user.id,
      familyId,
      nowSeconds,
      Math.floor(sessionEndsAt / 1000),
    );
    return {
      user: this.toPublic(user),
      accessToken: token,
      refreshToken,
      tokenType: 'Bearer',
      expiresIn: expiresAt - nowSeconds,
    };
  }

  /** A refresh token for REFRESH_TOKEN_TTL_SECONDS, or until its session ends when that comes first. */
  private newRefreshToken(sessionEndsAt: number): {
    token: string;
    record: { tokenHash: string; createdAt: string; expiresAt: string };
  } {
    const token = newOpaqueSecret('rt_');
    const now = this.deps.now();
    return {
      token,
      record: {
        tokenHash: hashSecret(token),
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(Math.min(now + this.deps.refreshTtlSeconds * 1000, sessionEndsAt)).toISOString(),
      },
    };
  }

  private toPublic(user: UserRecord): PublicUser {
    return {
      id: user.id,
      email: user.email,
      displayName: user.displayName,
      createdAt: user.createdAt,
      isAdmin: isAdminEmail(this.deps.adminEmails, user.email),
      isDemo: user.isDemo,
    };
  }

  private isoNow(): string {
    return new Date(this.deps.now()).toISOString();
  }
}
