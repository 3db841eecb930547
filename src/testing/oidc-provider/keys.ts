import { randomUUID } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/** An asymmetric key the harness holds the private half of. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly privateKey: CryptoKey;
  /** The private JWK, as the provider's JWKS configuration wants it. */
  readonly privateJwk: JWK;
  /** SPKI PEM of the public half: the secret of the classic RS256 → HS256 confusion attack. */
  readonly publicPem: string;
}

/** How a token gets signed: an asymmetric key, no signature at all, or an HMAC with a secret. */
export type Signer = SigningKey | { readonly alg: 'none' } | { readonly alg: 'HS256'; readonly secret: Uint8Array };

export async function generateSigningKey(alg: 'RS256' | 'ES256', kid: string = randomUUID()): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, privateJwk, publicPem: await exportSPKI(publicKey) };
}

/** HS256 keyed with `key`'s public PEM: a verifier that trusts the header's alg would accept it. */
export function hs256WithPublicKey(key: SigningKey): Signer {
  return { alg: 'HS256', secret: new TextEncoder().encode(key.publicPem) };
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWT with exactly these claims; `header` adds to (or overrides, e.g. kid) the protected header. */
export async function signJwt(
  claims: JWTPayload,
  signer: Signer,
  header: Record<string, unknown> = {},
): Promise<string> {
  if (signer.alg === 'none') return `${b64url({ alg: 'none', ...header })}.${b64url(claims)}.`;
  const kid = 'kid' in signer ? { kid: signer.kid } : {};
  const jwt = new SignJWT(claims).setProtectedHeader({ ...kid, ...header, alg: signer.alg });
  return jwt.sign('secret' in signer ? signer.secret : signer.privateKey);
}
