import { webcrypto as nodeWebcrypto, type KeyObject, type webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';

type CryptoKey = webcrypto.CryptoKey;

/** The key material for access tokens: one HS256 secret, or one EdDSA key pair whose public half is published. */
export interface SigningKeys {
  readonly alg: 'HS256' | 'EdDSA';
  readonly signingKey: KeyObject | CryptoKey;
  readonly verificationKey: KeyObject | CryptoKey;
  readonly kid: string | undefined;
  /** What GET /.well-known/jwks.json serves: public keys only (none for HS256). */
  readonly jwks: { keys: JWK[] };
}

const DEV_KEY_FILE = 'jwt-signing-key.json';

export async function loadSigningKeys(options: {
  secretKey: string | undefined;
  dataDir: string;
}): Promise<SigningKeys> {
  if (options.secretKey !== undefined) {
    // Imported once as a CryptoKey: jose works on WebCrypto keys, so raw bytes or a KeyObject would be converted
    // again on every sign and verify (measured: the conversion was a visible share of each handshake).
    const key = await nodeWebcrypto.subtle.importKey(
      'raw',
      Buffer.from(options.secretKey, 'utf8'),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
    return { alg: 'HS256', signingKey: key, verificationKey: key, kid: undefined, jwks: { keys: [] } };
  }
  const privateJwk = readOrCreateDevKey(options.dataDir, await generateDevJwk());
  const { d: _private, ...publicJwk } = privateJwk;
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    alg: 'EdDSA',
    signingKey: (await importJWK(privateJwk, 'EdDSA')) as CryptoKey,
    verificationKey: (await importJWK(publicJwk, 'EdDSA')) as CryptoKey,
    kid,
    jwks: { keys: [{ ...publicJwk, kid, alg: 'EdDSA', use: 'sig' }] },
  };
}

async function generateDevJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  return exportJWK(privateKey);
}

/** Kept in DATA_DIR so tokens survive restarts; written once, readable by the owner only. */
function readOrCreateDevKey(dataDir: string, fresh: JWK): JWK {
  const file = join(dataDir, DEV_KEY_FILE);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as JWK;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, JSON.stringify(fresh), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process created it first: use theirs so both sign with one key.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return JSON.parse(readFileSync(file, 'utf8')) as JWK;
    throw err;
  }
  chmodSync(file, 0o600);
  return fresh;
}
