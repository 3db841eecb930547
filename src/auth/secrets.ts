import { createHash, randomBytes } from 'node:crypto';

/** An opaque bearer secret: 256 bits from the CSPRNG, base64url, with a prefix naming its kind (rt_ refresh token, tk_ ticket, lc_ login code, br_ browser binding). */
export function newOpaqueSecret(prefix: 'rt_' | 'tk_' | 'lc_' | 'br_'): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** Secrets are stored only as SHA-256 hashes: they are high-entropy, so a fast hash is enough. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}
