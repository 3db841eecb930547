/** Durable user records. Emails are compared by their normalized (lower-cased, trimmed) form. */
export interface UserRecord {
  readonly id: string;
  readonly email: string;
  readonly passwordHash: string;
  readonly displayName: string | null;
  readonly isDemo: boolean;
  readonly createdAt: string;
  readonly disabledAt: string | null;
}

export interface UserStore {
  /** Inserts a user; throws AppError `email_taken` when the normalized email exists (atomic: unique index). */
  create(user: UserRecord): Promise<void>;
  findByEmail(email: string): Promise<UserRecord | undefined>;
  findById(id: string): Promise<UserRecord | undefined>;
  /** Every user, oldest first (ties by id); demo users only when `includeDemo`. For administration, not requests. */
  list(options?: { readonly includeDemo?: boolean }): Promise<UserRecord[]>;
  /**
   * Disables the user at `now` and revokes every refresh family of theirs not yet revoked, in one transaction.
   * Returns the ids of the families it revoked (for the RevocationBus, so open sockets close), or undefined for an
   * unknown user. Idempotent: an already disabled user keeps its first `disabledAt`.
   */
  disable(userId: string, now: string): Promise<{ readonly revokedSessions: readonly string[] } | undefined>;
  /** Clears `disabledAt`; false for an unknown user. Sessions revoked by disable stay revoked (log in again). */
  enable(userId: string): Promise<boolean>;
  /**
   * Deletes the user and everything of theirs (sessions, threads with their messages, runs and events, token
   * usage) in one transaction; false for an unknown user.
   */
  delete(userId: string): Promise<boolean>;
  /**
   * Deletes up to `limit` demo users created before `before`, with everything of theirs; returns how many, and the
   * sessions they held (for the RevocationBus, so their sockets close).
   */
  deleteDemoUsers(before: string, limit: number): Promise<{ readonly deleted: number; readonly sessions: string[] }>;
  /** Replaces the user's password hash; false for an unknown user. */
  setPasswordHash(userId: string, passwordHash: string): Promise<boolean>;
  /** The user an identity provider's (issuer, sub) is linked to. */
  findByIdentity(issuer: string, subject: string): Promise<UserRecord | undefined>;
  /**
   * Links (issuer, sub) to a user: an existing one (`user` is its id) or a new one created in the same
   * transaction. False, creating nothing, when the identity is already linked (a concurrent first sign-in won):
   * read it again with findByIdentity.
   */
  linkIdentity(identity: ExternalIdentity, user: string | UserRecord, now: string): Promise<boolean>;
}

/** Who an identity provider says signed in. */
export interface ExternalIdentity {
  readonly issuer: string;
  readonly subject: string;
}

/** A login (refresh family) as its user sees it. */
export interface SessionRecord {
  readonly id: string;
  readonly createdAt: string;
  /** When its refresh token was last rotated (its creation time when never). */
  readonly lastUsedAt: string;
}

/** A refresh token as stored: only its SHA-256 hash, never the token. */
export interface NewRefreshToken {
  readonly tokenHash: string;
  readonly familyId: string;
  readonly createdAt: string;
  readonly expiresAt: string;
}

export type RotationResult =
  | { readonly kind: 'rotated'; readonly userId: string; readonly familyId: string }
  /** The presented token was already spent (at `spentAt`): the family has been revoked in the same transaction. */
  | { readonly kind: 'reused'; readonly userId: string; readonly familyId: string; readonly spentAt: string }
  | { readonly kind: 'invalid' };

/**
 * Refresh-token families (one per login). A family is revoked as a whole by logout or by reuse detection, and an
 * access token carries its family as `sid`, so revocation also ends its access tokens.
 */
export interface TokenStore {
  /** Creates a family and its first token in one transaction. */
  createFamily(family: { id: string; userId: string; createdAt: string }, first: NewRefreshToken): Promise<void>;
  /**
   * Spends `tokenHash` and stores `next` in its family, atomically: of concurrent calls with one hash exactly one
   * gets `rotated`. A token that is already spent yields `reused` and revokes its family. Unknown, expired or
   * revoked tokens yield `invalid`.
   */
  rotate(tokenHash: string, next: Omit<NewRefreshToken, 'familyId'>, now: string): Promise<RotationResult>;
  /** Finds the live family of a token (for logout). */
  findFamilyByToken(tokenHash: string): Promise<{ familyId: string; userId: string; createdAt: string } | undefined>;
  /** Idempotent; returns true when this call revoked it. */
  revokeFamily(familyId: string, reason: string, now: string): Promise<boolean>;
  /** The user's live sessions (not revoked, holding a usable refresh token), oldest first. */
  listSessions(userId: string, now: string): Promise<SessionRecord[]>;
  /** Revokes every session of the user not yet revoked; returns the ids it revoked. */
  revokeUserFamilies(userId: string, reason: string, now: string): Promise<string[]>;
  /** True when the family exists, is not revoked, and its user exists and is not disabled. */
  isSessionActive(familyId: string, userId: string): Promise<boolean>;
  /** Deletes refresh tokens whose expiry is before `now`; returns how many. */
  deleteExpired(now: string): Promise<number>;
  /** Figures for GET /auth/stats. */
  stats(now: string): Promise<{
    activeSessions: number;
    activeSessionsByUser: Record<string, number>;
    oldestSessionCreatedAt: string | null;
  }>;
}

export interface TicketRecord {
  readonly userId: string;
  /** The session (refresh family) of the access token that asked for the ticket: revoking it voids the ticket. */
  readonly sessionId: string;
  /** Epoch seconds at which that access token expires: the socket opened with the ticket lives no longer. */
  readonly tokenExpiresAt: number;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

/**
 * Short-lived single-use records (WebSocket tickets, OIDC sign-ins in progress, login codes), keyed by the SHA-256
 * hash of the secret that names them: whoever reads the store cannot use what is in it.
 */
export interface OneTimeStore<T extends { readonly expiresAt: number }> {
  put(hash: string, record: T): Promise<void>;
  /** Get-and-delete in one atomic step: of concurrent consumers of one hash at most one gets the record. Expired → undefined. */
  consume(hash: string, nowMs: number): Promise<T | undefined>;
}

export type TicketStore = OneTimeStore<TicketRecord>;

/** Announces revoked sessions (families) so every instance closes their open sockets. */
export interface RevocationBus {
  publish(familyId: string): Promise<void>;
  /** Returns an unsubscribe function. */
  subscribe(listener: (familyId: string) => void): () => void;
}

/** A bus's link to the other processes (Redis pub/sub): what is published while it is down never arrives. */
export interface BusLink {
  readonly up: boolean;
  /** Called when the link goes down and when it is back up (after re-subscribing); returns an unsubscribe function. */
  onChange(listener: (up: boolean) => void): () => void;
}

/**
 * Counts attempts per key in a fixed window. `consume` resolves when allowed and throws AppError `rate_limited`
 * (with retryAfterSeconds) when the key is over its limit.
 */
export interface AttemptLimiter {
  consume(key: string): Promise<void>;
  reset(key: string): Promise<void>;
}

/**
 * The fingerprint of the access-token signing key (never the key), where every instance sharing the database sees
 * it. Instances that disagree on the key would each refuse the others' access tokens yet redeem their tickets and
 * refresh tokens: an instance whose key does not match refuses to start.
 */
export interface SigningKeyRegistry {
  /** Records `fingerprint` when none is recorded and answers the recorded one. Atomic: of racing first starts, one records. */
  recordOrGet(fingerprint: string, now: string): Promise<string>;
  /** Records `fingerprint` in place of any other: a deliberate key rotation (`agentgate signing-key adopt`). */
  replace(fingerprint: string, now: string): Promise<void>;
}
