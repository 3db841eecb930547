// Forged and confused credentials in development (EdDSA) mode: every one is refused on HTTP and at the
// WebSocket upgrade (CONTRACT.md "Tokens", "WebSocket: GET /ws"; RFC 8725 JWT BCP; RFC 9068 at+jwt).
import { createPrivateKey, randomUUID, sign as edSign, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { base64url, decodeJwt, decodeProtectedHeader, exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK, type JWTPayload, type KeyObject } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type HttpResult, type TestApp } from '../../src/testing/index.js';

type ErrorBody = { error: { code: string; message: string } };
type User = Awaited<ReturnType<typeof registerUser>>;
type Header = { alg: string; typ?: string; kid?: string; jwk?: JWK; jku?: string; x5u?: string };
const codeOf = (res: HttpResult<unknown>): string | undefined => (res.body as Partial<ErrorBody> | undefined)?.error?.code;

let app: TestApp;
let alice: User;
let bob: User;
let realKey: CryptoKey | KeyObject | Uint8Array;
let publicJwk: JWK & { kid: string };
let attackerKey: CryptoKey | KeyObject;
let attackerPublic: JWK;
beforeAll(async () => {
  app = await createTestApp();
  [alice, bob] = await Promise.all([registerUser(app.url, 'alice'), registerUser(app.url, 'bob')]);
  // Development mode keeps its private key in DATA_DIR: reading it lets this test sign "real" tokens.
  const privateJwk = JSON.parse(readFileSync(join(app.dataDir, 'jwt-signing-key.json'), 'utf8')) as JWK;
  realKey = await importJWK(privateJwk, 'EdDSA');
  const jwks = await request<{ keys: Array<JWK & { kid: string }> }>(app.url, 'GET', '/.well-known/jwks.json');
  publicJwk = jwks.body.keys[0] as JWK & { kid: string };
  const attacker = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  attackerKey = attacker.privateKey;
  attackerPublic = await exportJWK(attacker.publicKey);
});
afterAll(async () => {
  await app?.close();
});

const now = (): number => Math.floor(Date.now() / 1000);
/** The claims a genuine access token of `user` carries, with `over` applied (undefined deletes a claim). */
function claimsOf(user: User, over: Record<string, unknown> = {}): JWTPayload {
  const real = decodeJwt(user.accessToken);
  const base: Record<string, unknown> = { sub: real.sub, sid: real.sid, iss: real.iss, aud: real.aud, iat: now(), exp: now() + 600, jti: randomUUID(), ...over };
  return Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined));
}
const sign = (payload: JWTPayload, header: Header, key: CryptoKey | KeyObject | Uint8Array): Promise<string> => new SignJWT(payload).setProtectedHeader(header).sign(key);
const realHeader = (): Header => ({ alg: 'EdDSA', typ: 'at+jwt', kid: publicJwk.kid });
const signReal = (payload: JWTPayload, header: Partial<Header> = {}): Promise<string> => sign(payload, { ...realHeader(), ...header }, realKey);
const unsecured = (header: Record<string, unknown>, payload: JWTPayload): string =>
  `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.`;

async function upgradeStatus(init: { token: string; via?: 'header' | 'subprotocol' | 'ticket-query' }): Promise<number | 'open'> {
  const via = init.via ?? 'header';
  const url = via === 'ticket-query' ? wsUrl(app.url, `?ticket=${encodeURIComponent(init.token)}`) : wsUrl(app.url);
  const options = via === 'header' ? { headers: { authorization: `Bearer ${init.token}` } } : via === 'subprotocol' ? { protocols: ['agentgate.v1', `bearer.${init.token}`] } : {};
  try {
    (await TestSocket.open(url, options)).close();
    return 'open';
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
}

/** Refused on /auth/me with 401 (invalid_token unless told) and at the upgrade, by header and by subprotocol. */
async function expectRefused(token: string, codes: string[] = ['invalid_token']): Promise<void> {
  const res = await request(app.url, 'GET', '/auth/me', { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(401);
  expect(codes).toContain(codeOf(res));
  expect((await request(app.url, 'POST', '/ws/ticket', { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  expect(await upgradeStatus({ token })).toBe(401);
  expect(await upgradeStatus({ token, via: 'subprotocol' })).toBe(401);
}

describe('control: a token this test signs with the real key and the real claims is accepted', () => {
  it('so every refusal below is caused by the one defect each forgery has', async () => {
    const token = await signReal(claimsOf(alice));
    const res = await request<{ user: { id: string } }>(app.url, 'GET', '/auth/me', { token });
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(alice.user.id);
    expect(await upgradeStatus({ token })).toBe('open');
    expect(decodeProtectedHeader(alice.accessToken)).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt', kid: publicJwk.kid });
  });
});

describe('forged tokens are refused (401 on /auth/me and at the WebSocket upgrade)', () => {
  it.each(['none', 'None', 'NONE', 'nOnE'])('RFC 8725 3.1 / 2.1: alg "%s" (unsecured JWT) is refused', async (alg) => {
    await expectRefused(unsecured({ alg, typ: 'at+jwt', kid: publicJwk.kid }, claimsOf(alice)));
    // …also with the original signature left in place.
    const [, , signature] = alice.accessToken.split('.');
    await expectRefused(`${unsecured({ alg, typ: 'at+jwt' }, claimsOf(alice)).slice(0, -1)}.${signature}`);
  });

  it('RFC 8725 3.1: a token signed by a different EdDSA key (claiming the server\'s kid) is refused', async () => {
    await expectRefused(await sign(claimsOf(alice), realHeader(), attackerKey));
    await expectRefused(await sign(claimsOf(alice), { alg: 'EdDSA', typ: 'at+jwt' }, attackerKey));
  });

  it('RFC 8725 2.1 algorithm confusion: HS256 keyed with the server\'s public key bytes is refused', async () => {
    const spki = await exportSPKI((await importJWK(publicJwk, 'EdDSA')) as CryptoKey);
    const { kid: _kid, alg: _alg, use: _use, ...bareJwk } = publicJwk;
    const secrets = [
      new TextEncoder().encode(JSON.stringify(publicJwk)),
      new TextEncoder().encode(JSON.stringify(bareJwk)),
      base64url.decode(publicJwk.x ?? ''),
      new TextEncoder().encode(publicJwk.x ?? ''),
      new TextEncoder().encode(spki),
    ];
    for (const secret of secrets) {
      for (const alg of ['HS256', 'HS384', 'HS512']) await expectRefused(await sign(claimsOf(alice), { alg, typ: 'at+jwt', kid: publicJwk.kid }, secret));
    }
  });

  it('RFC 8725 3.10 / CVE-2018-0114: a header-embedded jwk (and jku / x5u) is never used to verify', async () => {
    await expectRefused(await sign(claimsOf(alice), { alg: 'EdDSA', typ: 'at+jwt', jwk: attackerPublic }, attackerKey));
    await expectRefused(await sign(claimsOf(alice), { ...realHeader(), jwk: attackerPublic }, attackerKey));
    await expectRefused(await sign(claimsOf(alice), { alg: 'EdDSA', typ: 'at+jwt', jku: `${app.url}/attacker/jwks.json` }, attackerKey));
    await expectRefused(await sign(claimsOf(alice), { alg: 'EdDSA', typ: 'at+jwt', x5u: `${app.url}/attacker/cert.pem` }, attackerKey));
  });

  it('RFC 7515 4.1.11: a real-key signature over a header with an unknown "crit" extension is refused', async () => {
    const privateJwk = JSON.parse(readFileSync(join(app.dataDir, 'jwt-signing-key.json'), 'utf8')) as JWK;
    const key = createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' });
    const rawSign = (header: Record<string, unknown>): string => {
      const input = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(claimsOf(alice)))}`;
      return `${input}.${base64url.encode(edSign(null, Buffer.from(input), key))}`;
    };
    // Control: the hand-rolled signer makes tokens the server accepts.
    expect((await request(app.url, 'GET', '/auth/me', { token: rawSign(realHeader()) })).status).toBe(200);
    await expectRefused(rawSign({ ...realHeader(), crit: ['x-must-understand'], 'x-must-understand': true }));
  });

  it('RFC 7515 5.2: tampered claims (payload re-encoded, original signature kept) are refused', async () => {
    const [header, payload, signature] = alice.accessToken.split('.') as [string, string, string];
    const original = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as JWTPayload;
    const bobClaims = decodeJwt(bob.accessToken);
    const tampers: JWTPayload[] = [
      { ...original, sub: bob.user.id, sid: bobClaims.sid },
      { ...original, exp: (original.exp ?? 0) + 86_400 },
      { ...original, isAdmin: true },
    ];
    for (const t of tampers) await expectRefused(`${header}.${base64url.encode(JSON.stringify(t))}.${signature}`);
    // Changing only the header (typ) breaks the signature too.
    await expectRefused(`${base64url.encode(JSON.stringify({ ...realHeader(), typ: 'JWT' }))}.${payload}.${signature}`);
    // The untouched original still works.
    expect((await request(app.url, 'GET', '/auth/me', { token: alice.accessToken })).status).toBe(200);
  });

  it.each([['JWT'], ['jwt'], ['at+jwt+x'], ['dpop+jwt'], [undefined]])('RFC 9068 2.1 / RFC 8725 3.11: typ %s signed with the real key is refused', async (typ) => {
    const header: Header = typ === undefined ? { alg: 'EdDSA', kid: publicJwk.kid } : { ...realHeader(), typ };
    await expectRefused(await sign(claimsOf(alice), header, realKey));
  });

  it('RFC 8725 3.8 / RFC 7519 4.1.1: a wrong iss, signed with the real key, is refused', async () => {
    await expectRefused(await signReal(claimsOf(alice, { iss: 'https://evil.example' })));
    await expectRefused(await signReal(claimsOf(alice, { iss: undefined })));
  });

  it('RFC 8725 3.9 / RFC 7519 4.1.3: a wrong aud, signed with the real key, is refused', async () => {
    await expectRefused(await signReal(claimsOf(alice, { aud: 'another-service' })));
    await expectRefused(await signReal(claimsOf(alice, { aud: undefined })));
  });

  it('RFC 7519 4.1.4: an expired token (signed with the real key) is refused with 401 token_expired', async () => {
    await expectRefused(await signReal(claimsOf(alice, { iat: now() - 3600, exp: now() - 600 })), ['token_expired']);
  });

  it('RFC 7519 4.1.5: a token not valid yet (nbf an hour ahead) is refused', async () => {
    await expectRefused(await signReal(claimsOf(alice, { nbf: now() + 3600 })), ['invalid_token', 'token_expired']);
  });

  it('contract: required claims — a token without sub, sid or exp is refused', async () => {
    for (const missing of ['sub', 'sid', 'exp']) await expectRefused(await signReal(claimsOf(alice, { [missing]: undefined })));
  });

  it('contract "refuses a token whose user or family no longer exists": nonexistent sid, nonexistent user, crossed user/sid', async () => {
    await expectRefused(await signReal(claimsOf(alice, { sid: randomUUID() })));
    await expectRefused(await signReal(claimsOf(alice, { sub: randomUUID() })));
    // Bob's id with Alice's session: a session is bound to its own user.
    await expectRefused(await signReal(claimsOf(alice, { sub: bob.user.id })));
  });

  it('contract: a token of a deleted user is refused before its exp', async () => {
    const doomed = await registerUser(app.url, 'doomed');
    expect((await request(app.url, 'GET', '/auth/me', { token: doomed.accessToken })).status).toBe(200);
    const db = new Database(join(app.dataDir, 'agentgate.sqlite'));
    try {
      db.pragma('foreign_keys = ON');
      expect(db.prepare('DELETE FROM users WHERE id = ?').run(doomed.user.id).changes).toBe(1);
    } finally {
      db.close();
    }
    await expectRefused(doomed.accessToken);
    await expectRefused(await signReal(claimsOf(doomed)));
  });
});

describe('JWKS and token-kind confusion', () => {
  it('contract: the development JWKS has exactly one public OKP/Ed25519 key with a kid and no private members', async () => {
    const res = await request<{ keys: JWK[] }>(app.url, 'GET', '/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.body.keys).toHaveLength(1);
    const [key] = res.body.keys as [JWK];
    expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: expect.any(String) });
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(member);
    expect(JSON.stringify(res.body)).not.toContain((JSON.parse(readFileSync(join(app.dataDir, 'jwt-signing-key.json'), 'utf8')) as JWK).d);
    expect(key.kid).toBe(decodeProtectedHeader(alice.accessToken).kid);
  });

  it('contract "refresh tokens and tickets are never accepted as Bearer": refresh token → 401 on HTTP and at the upgrade', async () => {
    const user = await registerUser(app.url, 'kind-rt');
    await expectRefused(user.refreshToken);
    // And it was not spent by those attempts.
    expect((await request(app.url, 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } })).status).toBe(200);
  });

  it('contract "refresh tokens and tickets are never accepted as Bearer": a ticket → 401 on HTTP and at the upgrade', async () => {
    const user = await registerUser(app.url, 'kind-ticket');
    const mint = async (): Promise<string> => {
      const res = await request<{ ticket: string }>(app.url, 'POST', '/ws/ticket', { token: user.accessToken });
      expect(res.status).toBe(201);
      expect(res.headers.get('cache-control')).toContain('no-store');
      return res.body.ticket;
    };
    const ticket = await mint();
    expect((await request(app.url, 'GET', '/auth/me', { headers: { authorization: `Bearer ${ticket}` } })).status).toBe(401);
    expect(await upgradeStatus({ token: await mint() })).toBe(401);
    expect(await upgradeStatus({ token: await mint(), via: 'subprotocol' })).toBe(401);
  });

  it('contract "Access JWTs are never accepted in a URL": an access token as ?ticket= or ?access_token= → 401', async () => {
    const user = await registerUser(app.url, 'kind-url');
    expect(await upgradeStatus({ token: user.accessToken, via: 'ticket-query' })).toBe(401);
    expect(await upgradeStatus({ token: user.refreshToken, via: 'ticket-query' })).toBe(401);
    let status: number | 'open' = 'open';
    try {
      (await TestSocket.open(wsUrl(app.url, `?access_token=${user.accessToken}`))).close();
    } catch (err) {
      status = (err as { status?: number }).status ?? -1;
    }
    expect(status).toBe(401);
    expect((await request(app.url, 'GET', `/auth/me?access_token=${user.accessToken}`)).status).toBe(401);
  });
});
