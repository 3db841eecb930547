import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { AppError, isAppError } from '../errors/index.js';
import type { PasswordHasher } from './passwords.js';
import type { ExternalIdentity, UserRecord, UserStore } from './ports.js';

/** What an identity provider says about the person, beyond (issuer, sub). */
export interface IdentityProfile {
  readonly email?: string | undefined;
  /** Only `true` (the boolean) counts: anything else is unverified. */
  readonly emailVerified: boolean;
  readonly name?: string | undefined;
}

/**
 * The user behind an identity provider's (issuer, sub): found, linked to the password account with the same email
 * when (and only when) the provider says that email is verified, or created. An unverified email is never given
 * to a new account either: it would squat an address its owner could not then register with.
 */
export class IdentityAccounts {
  constructor(
    private readonly users: UserStore,
    private readonly passwords: PasswordHasher,
    private readonly now: () => number,
  ) {}

  async userFor(identity: ExternalIdentity, profile: IdentityProfile): Promise<UserRecord> {
    const known = await this.users.findByIdentity(identity.issuer, identity.subject);
    if (known !== undefined) return known;
    const at = new Date(this.now()).toISOString();
    const verifiedEmail = profile.emailVerified && profile.email !== undefined ? profile.email : undefined;
    if (verifiedEmail !== undefined) {
      const owner = await this.users.findByEmail(verifiedEmail);
      if (owner !== undefined) {
        if (await this.users.linkIdentity(identity, owner.id, at)) return owner;
        return this.linkedMeanwhile(identity);
      }
    }
    const user: UserRecord = {
      id: randomUUID(),
      email: verifiedEmail ?? placeholderEmail(identity),
      // A random password nobody knows: this account signs in through its provider.
      passwordHash: await this.passwords.hash(randomBytes(32).toString('base64url')),
      displayName: profile.name?.slice(0, 200) ?? null,
      isDemo: false,
      createdAt: at,
      disabledAt: null,
    };
    try {
      if (await this.users.linkIdentity(identity, user, at)) return user;
    } catch (err) {
      // Two first sign-ins at once (an app's parallel calls with a new token): both tried to create the user, and
      // the loser hit the email index. The winner's link is the answer.
      if (!(isAppError(err) && err.code === 'email_taken')) throw err;
    }
    return this.linkedMeanwhile(identity);
  }

  /** A concurrent first sign-in of the same identity linked it first: its user is the one. */
  private async linkedMeanwhile(identity: ExternalIdentity): Promise<UserRecord> {
    const user = await this.users.findByIdentity(identity.issuer, identity.subject);
    // Not a store fault (which would trip the breaker): the email was taken by someone else meanwhile.
    if (user === undefined) throw new AppError('email_taken', 'An account with this email was created meanwhile.');
    return user;
  }
}

/** Unique per identity, never deliverable (RFC 2606 `.invalid`). */
function placeholderEmail(identity: ExternalIdentity): string {
  const digest = createHash('sha256').update(`${identity.issuer}\n${identity.subject}`).digest('hex').slice(0, 32);
  return `sso-${digest}@users.agentgate.invalid`;
}
