import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { AppError } from '../errors/index.js';
import type { IdentityProfile } from './identity-accounts.js';
import type { ExternalIdentity } from './ports.js';

export interface ExternalTokenSettings {
  readonly issuer: string;
  readonly audience: string;
  /** Default: `jwks_uri` of the issuer's discovery document. */
  readonly jwksUrl: string | undefined;
}

export interface ExternalClaims {
  readonly identity: ExternalIdentity;
  readonly profile: IdentityProfile;
  readonly tokenId: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

/** Asymmetric only: with a public JWKS, an HMAC "key" would be public, and `none` is no signature at all. */
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** An unknown `kid` refetches the JWKS (a rotated key), at most this often: forged kids cannot hammer the issuer. */
const JWKS_COOLDOWN_MS = 30_000;
const DISCOVERY_RETRY_MS = 10_000;
/** Keys are fetched again after this long even when every kid is known (a revoked key stops working). */
const JWKS_MAX_AGE_MS = 10 * 60_000;

/**
 * The identity provider's own access tokens (EXTERNAL_JWT_*), verified with jose against the issuer's JWKS:
 * signature (asymmetric), `iss`, `aud`, `exp` and `nbf`. agentgate cannot revoke them: they live until `exp`.
 */
export class ExternalTokens {
  private keys: ReturnType<typeof createRemoteJWKSet> | undefined;
  /** A failed discovery is not retried before this: tokens claiming the issuer must not each cost a fetch. */
  private discoveryFailedAt = -Infinity;

  constructor(private readonly settings: ExternalTokenSettings) {}

  /** Whether this token claims to come from the external issuer (unverified: it only picks the verifier). */
  claimsIssuer(token: string): boolean {
    try {
      return decodeJwt(token).iss === this.settings.issuer;
    } catch {
      return false;
    }
  }

  async verify(token: string, nowSeconds: number): Promise<ExternalClaims> {
    const keys = await this.jwks();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: ASYMMETRIC,
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        requiredClaims: ['sub', 'exp'],
        currentDate: new Date(nowSeconds * 1000),
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired)
        throw new AppError('token_expired', 'The access token has expired: get a fresh one.', { cause: err });
      if (err instanceof joseErrors.JWKSTimeout || isFetchFailure(err))
        throw new AppError('service_unavailable', "The identity provider's keys cannot be fetched right now.", {
          cause: err,
        });
      throw new AppError('invalid_token', 'The access token is invalid.', { cause: err });
    }
    const { sub, exp } = payload;
    // An ID token (it carries the sign-in's nonce) says who signed in to a client, not what an API may do.
    if (payload.nonce !== undefined) throw new AppError('invalid_token', 'An ID token is not an access token.');
    if (typeof sub !== 'string' || sub === '' || typeof exp !== 'number')
      throw new AppError('invalid_token', 'The access token is missing required claims.');
    return {
      identity: { issuer: this.settings.issuer, subject: sub },
      profile: {
        email: typeof payload.email === 'string' ? payload.email : undefined,
        emailVerified: payload.email_verified === true,
        name: typeof payload.name === 'string' ? payload.name : undefined,
      },
      tokenId: typeof payload.jti === 'string' ? payload.jti : 'external',
      expiresAt: exp,
    };
  }

  private async jwks(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (this.keys !== undefined) return this.keys;
    let url = this.settings.jwksUrl;
    if (url === undefined) {
      if (Date.now() - this.discoveryFailedAt < DISCOVERY_RETRY_MS)
        throw new AppError('service_unavailable', "The identity provider's discovery document cannot be read.");
      const discovery = `${this.settings.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
      let document: { jwks_uri?: unknown };
      try {
        const res = await fetch(discovery, { signal: AbortSignal.timeout(5_000) });
        if (!res.ok) throw new Error(`discovery answered ${res.status}`);
        document = (await res.json()) as { jwks_uri?: unknown };
      } catch (err) {
        this.discoveryFailedAt = Date.now();
        throw new AppError('service_unavailable', "The identity provider's discovery document cannot be read.", {
          cause: err,
        });
      }
      if (typeof document.jwks_uri !== 'string')
        throw new AppError('service_unavailable', "The identity provider's discovery document has no jwks_uri.");
      url = document.jwks_uri;
    }
    this.keys = createRemoteJWKSet(new URL(url), {
      cooldownDuration: JWKS_COOLDOWN_MS,
      cacheMaxAge: JWKS_MAX_AGE_MS,
      timeoutDuration: 5_000,
    });
    return this.keys;
  }
}

function isFetchFailure(err: unknown): boolean {
  return err instanceof TypeError && /fetch/i.test(err.message);
}
