import type { SigningKeyRegistry } from './ports.js';
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
  /**
   * Names the key without revealing it, so instances can compare keys: HS256, an HMAC with the key of a fixed label;
   * EdDSA, the public key's JWK thumbprint (its kid).
   */
  readonly fingerprint: string;
}

/** What the HS256 fingerprint signs: fixed, so the same key always gives the same fingerprint. */
const FINGERPRINT_LABEL = 'agentgate signing-key fingerprint v1';

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
    const mac = await nodeWebcrypto.subtle.sign('HMAC', key, new TextEncoder().encode(FINGERPRINT_LABEL));
    const fingerprint = `hs256:${Buffer.from(mac).toString('base64url')}`;
    return { alg: 'HS256', signingKey: key, verificationKey: key, kid: undefined, jwks: { keys: [] }, fingerprint };
  }
  const privateJwk = readOrCreateKeyFile(options.dataDir, DEV_KEY_FILE, await generateDevJwk());
  const { d: _private, ...publicJwk } = privateJwk;
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    alg: 'EdDSA',
    signingKey: (await importJWK(privateJwk, 'EdDSA')) as CryptoKey,
    verificationKey: (await importJWK(publicJwk, 'EdDSA')) as CryptoKey,
    kid,
    jwks: { keys: [{ ...publicJwk, kid, alg: 'EdDSA', use: 'sig' }] },
    fingerprint: `eddsa:${kid}`,
  };
}

/**
 * The fingerprint of the development key kept in DATA_DIR, read without creating it: undefined when there is
 * none yet (a server would create a new one).
 */
export async function devKeyFingerprint(dataDir: string): Promise<string | undefined> {
  const file = join(dataDir, DEV_KEY_FILE);
  if (!existsSync(file)) return undefined;
  const { d: _private, ...publicJwk } = JSON.parse(readFileSync(file, 'utf8')) as JWK;
  return `eddsa:${await calculateJwkThumbprint(publicJwk)}`;
}

export async function generateDevJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  return exportJWK(privateKey);
}

/** A private JWK kept in DATA_DIR so tokens survive restarts; written once, readable by the owner only. */
export function readOrCreateKeyFile(dataDir: string, fileName: string, fresh: JWK): JWK {
  const file = join(dataDir, fileName);
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

/**
 * Refuses to serve with a signing key other than the one the instances sharing this database use: they would each
 * refuse the others' access tokens. The first instance records its key's fingerprint.
 */
export async function checkSigningKey(registry: SigningKeyRegistry, keys: SigningKeys, nowIso: string): Promise<void> {
  const recorded = await registry.recordOrGet(keys.fingerprint, nowIso);
  if (recorded === keys.fingerprint) return;
  throw new Error(
    `The access-token signing key (fingerprint ${short(keys.fingerprint)}) is not the one recorded in the database ` +
      `(${short(recorded)}), which the instances sharing it sign with. Start every instance with the same ` +
      'JWT_SECRET_KEY. To change the key on purpose, stop every instance, then run `agentgate signing-key adopt` ' +
      'with the new key set (access tokens signed with the old key are refused from then on; clients refresh).',
  );
}

const short = (fingerprint: string): string => `${fingerprint.slice(0, 18)}…`;
