import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { AppError } from '../errors/index.js';
import type { SigningKeys } from './signing-keys.js';

const ACCESS_TOKEN_TYP = 'at+jwt';

/** What a verified access token says. The session (sid) is the refresh-token family it was issued under. */
export interface AccessClaims {
  readonly userId: string;
  readonly sessionId: string;
  readonly tokenId: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

export interface AccessTokenOptions {
  readonly keys: SigningKeys;
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
}

/** Verified tokens remembered (~0.5 KB each): a client reconnecting with its token is not verified again. */
const VERIFIED_CACHE_ENTRIES = 10_000;

/**
 * Signs and verifies access JWTs (RFC 9068 `at+jwt`). The algorithm is pinned to the configured key. A token once
 * verified is remembered by its exact text (whatever bytes differ is another token, verified anew), and only its
 * expiry is checked again; whether its session still holds is the caller's check, every time.
 */
export class AccessTokens {
  private readonly verified = new Map<string, AccessClaims>();

  constructor(private readonly options: AccessTokenOptions) {}

  /** A token for `ttlSeconds`, or until `notAfterSeconds` (its session's end) when that comes first. */
  async sign(
    userId: string,
    sessionId: string,
    nowSeconds: number,
    notAfterSeconds = Infinity,
  ): Promise<{ token: string; expiresAt: number }> {
    const { keys, issuer, audience, ttlSeconds } = this.options;
    const expiresAt = Math.min(nowSeconds + ttlSeconds, notAfterSeconds);
    const token = await new SignJWT({ sid: sessionId })
      .setProtectedHeader(
        keys.kid === undefined
          ? { alg: keys.alg, typ: ACCESS_TOKEN_TYP }
          : { alg: keys.alg, typ: ACCESS_TOKEN_TYP, kid: keys.kid },
      )
      .setSubject(userId)
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(expiresAt)
      .setJti(randomUUID())
      .sign(keys.signingKey);
    return { token, expiresAt };
  }

  /**
   * Verifies signature, algorithm, typ, iss, aud and exp. Keys named in the header (jwk, jku, x5u, kid) are never
   * used: verification always uses our one configured key. Throws AppError invalid_token or token_expired.
   */
  async verify(token: string, nowSeconds?: number): Promise<AccessClaims> {
    const known = this.verified.get(token);
    if (known !== undefined) {
      if (known.expiresAt > (nowSeconds ?? Date.now() / 1000)) return known;
      this.verified.delete(token);
    }
    const claims = await this.verifySignature(token, nowSeconds);
    if (this.verified.size >= VERIFIED_CACHE_ENTRIES) this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(token, claims);
    return claims;
  }

  private async verifySignature(token: string, nowSeconds: number | undefined): Promise<AccessClaims> {
    const { keys, issuer, audience } = this.options;
    try {
      const { payload } = await jwtVerify(token, keys.verificationKey, {
        algorithms: [keys.alg],
        typ: ACCESS_TOKEN_TYP,
        issuer,
        audience,
        requiredClaims: ['sub', 'sid', 'iat', 'exp', 'jti'],
        ...(nowSeconds === undefined ? {} : { currentDate: new Date(nowSeconds * 1000) }),
      });
      if (
        typeof payload.sub !== 'string' ||
        typeof payload.sid !== 'string' ||
        typeof payload.jti !== 'string' ||
        typeof payload.exp !== 'number'
      ) {
        throw new AppError('invalid_token', 'The access token is missing required claims.');
      }
      return { userId: payload.sub, sessionId: payload.sid, tokenId: payload.jti, expiresAt: payload.exp };
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof joseErrors.JWTExpired)
        throw new AppError('token_expired', 'The access token has expired: refresh it.', { cause: err });
      throw new AppError('invalid_token', 'The access token is not valid.', { cause: err });
    }
  }
}
