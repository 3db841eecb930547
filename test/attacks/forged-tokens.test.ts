// Forged and confused access tokens: every one is refused 401 on HTTP (GET /auth/me, POST /ws/ticket) and at the
// WebSocket upgrade, by Authorization header and by `bearer.` subprotocol (CONTRACT.md "Tokens", "WebSocket: GET /ws").
// Sources: RFC 8725 (JWT BCP), RFC 7515 (JWS), RFC 7519 (JWT), RFC 9068 (JWT access tokens), and the advisories of
// jsonwebtoken / node-jose / Java ECDSA that made these attacks classics.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  base64url,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
  type KeyObject,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthResponse } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, SkewedClock, type TestApp } from '../../src/testing/index.js';
import {
  claimsFrom,
  codeOf,
  devPrivateJwk,
  edSigner,
  expectRefusedEverywhere,
  hmacSigner,
  logout,
  me,
  nowSeconds as now,
  rawJws,
  upgradeWith,
  withDb,
  type User,
} from './helpers/tokens.js';

type Header = { alg: string; typ?: string; kid?: string; jwk?: JWK; jku?: string; x5u?: string };
type Key = CryptoKey | KeyObject | Uint8Array;
const sign = (payload: JWTPayload, header: Header, key: Key): Promise<string> =>
  new SignJWT(payload).setProtectedHeader(header).sign(key);
const unsecured = (header: Record<string, unknown>, payload: JWTPayload): string =>
  `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.`;
const segments = (token: string): [string, string, string] => token.split('.') as [string, string, string];

describe('forged tokens, EdDSA (development) mode', () => {
  let app: TestApp;
  let otherInstance: TestApp;
  let alice: User;
  let bob: User;
  let realKey: Key;
  let publicJwk: JWK & { kid: string };
  let attackerKey: CryptoKey | KeyObject;
  let attackerPublic: JWK;
  beforeAll(async () => {
    [app, otherInstance] = await Promise.all([createTestApp(), createTestApp()]);
    [alice, bob] = await Promise.all([registerUser(app.url, 'alice'), registerUser(app.url, 'bob')]);
    // Development mode keeps its private key in DATA_DIR: reading it lets these tests sign "real" tokens.
    realKey = await importJWK(devPrivateJwk(app), 'EdDSA');
    const jwks = await request<{ keys: Array<JWK & { kid: string }> }>(app.url, 'GET', '/.well-known/jwks.json');
    publicJwk = jwks.body.keys[0] as JWK & { kid: string };
    const attacker = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    attackerKey = attacker.privateKey;
    attackerPublic = await exportJWK(attacker.publicKey);
  });
  afterAll(async () => {
    await Promise.all([app?.close(), otherInstance?.close()]);
  });

  const claimsOf = (user: User, over: Record<string, unknown> = {}): JWTPayload => claimsFrom(user.accessToken, over);
  const realHeader = (): Header => ({ alg: 'EdDSA', typ: 'at+jwt', kid: publicJwk.kid });
  const signReal = (payload: JWTPayload, header: Partial<Header> = {}): Promise<string> =>
    sign(payload, { ...realHeader(), ...header }, realKey);
  const expectRefused = (token: string, codes?: string[]): Promise<void> => expectRefusedEverywhere(app, token, codes);

  it('[RFC 8725 §3.1] control: a token this test signs with the real key and the real claims is accepted, so each refusal below comes from its one defect', async () => {
    const token = await signReal(claimsOf(alice));
    const res = await request<{ user: { id: string } }>(app.url, 'GET', '/auth/me', { token });
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(alice.user.id);
    expect(await upgradeWith(app, token, 'header')).toBe('open');
    expect(await upgradeWith(app, token, 'subprotocol')).toBe('open');
    expect(decodeProtectedHeader(alice.accessToken)).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt', kid: publicJwk.kid });
  });

  it.each(['none', 'None', 'NONE', 'nOnE'])(
    '[RFC 8725 §2.1, §3.1 / CVE-2022-23540] alg "%s" (unsecured JWT) is refused, also with the original signature left in place',
    async (alg) => {
      await expectRefused(unsecured({ alg, typ: 'at+jwt', kid: publicJwk.kid }, claimsOf(alice)));
      const [, , signature] = segments(alice.accessToken);
      await expectRefused(`${unsecured({ alg, typ: 'at+jwt' }, claimsOf(alice)).slice(0, -1)}.${signature}`);
    },
  );

  it('[RFC 8725 §3.3] a stripped signature is refused whatever alg claims: EdDSA, HS256 and "" with an empty third segment, and a two-segment token', async () => {
    const [header, payload] = segments(alice.accessToken);
    await expectRefused(`${header}.${payload}.`);
    await expectRefused(`${header}.${payload}`);
    await expectRefused(unsecured({ alg: 'HS256', typ: 'at+jwt' }, claimsOf(alice)));
    await expectRefused(unsecured({ alg: '', typ: 'at+jwt' }, claimsOf(alice)));
    await expectRefused(unsecured({ typ: 'at+jwt' }, claimsOf(alice)));
  });

  it("[RFC 8725 §3.1 / CWE-347] a token signed by another Ed25519 key (with or without the server's kid) is refused", async () => {
    await expectRefused(await sign(claimsOf(alice), realHeader(), attackerKey));
    await expectRefused(await sign(claimsOf(alice), { alg: 'EdDSA', typ: 'at+jwt' }, attackerKey));
  });

  it("[RFC 8725 §2.1 / CVE-2015-9235 / CVE-2022-23541] algorithm confusion: HS256/384/512 keyed with the server's public key (JWK, JWKS document, raw x, PEM) is refused", async () => {
    const spki = await exportSPKI((await importJWK(publicJwk, 'EdDSA')) as CryptoKey);
    const { kid: _kid, alg: _alg, use: _use, ...bareJwk } = publicJwk;
    const jwksText = await (await fetch(`${app.url}/.well-known/jwks.json`)).text();
    const secrets = [
      new TextEncoder().encode(JSON.stringify(publicJwk)),
      new TextEncoder().encode(JSON.stringify(bareJwk)),
      new TextEncoder().encode(jwksText),
      base64url.decode(publicJwk.x ?? ''),
      new TextEncoder().encode(publicJwk.x ?? ''),
      new TextEncoder().encode(spki),
    ];
    for (const secret of secrets) {
      for (const alg of ['HS256', 'HS384', 'HS512'])
        await expectRefused(await sign(claimsOf(alice), { alg, typ: 'at+jwt', kid: publicJwk.kid }, secret));
    }
  });

  it("[CVE-2022-23539 / RFC 8725 §3.1] key-type confusion: RS256, PS256, ES256 and ES384 tokens under attacker keys (bare, with the server's kid, with the key embedded as jwk) are refused", async () => {
    for (const alg of ['RS256', 'PS256', 'ES256', 'ES384']) {
      const pair = await generateKeyPair(alg, { extractable: true });
      const jwk = await exportJWK(pair.publicKey);
      await expectRefused(await sign(claimsOf(alice), { alg, typ: 'at+jwt' }, pair.privateKey));
      await expectRefused(await sign(claimsOf(alice), { alg, typ: 'at+jwt', kid: publicJwk.kid }, pair.privateKey));
      await expectRefused(await sign(claimsOf(alice), { alg, typ: 'at+jwt', jwk }, pair.privateKey));
    }
  });

  it('[CVE-2022-21449] "psychic signatures": an all-zero EdDSA signature and an ES256 signature with r = s = 0 are refused', async () => {
    const zeros = base64url.encode(new Uint8Array(64));
    for (const alg of ['EdDSA', 'ES256'])
      await expectRefused(`${unsecured({ ...realHeader(), alg }, claimsOf(alice))}${zeros}`);
    // Over a genuine header and payload too.
    const [header, payload] = segments(alice.accessToken);
    await expectRefused(`${header}.${payload}.${zeros}`);
  });

  it('[RFC 8725 §3.10 / CVE-2018-0114] keys named in the header (an embedded jwk, jku, x5u) are never used to verify', async () => {
    await expectRefused(await sign(claimsOf(alice), { alg: 'EdDSA', typ: 'at+jwt', jwk: attackerPublic }, attackerKey));
    await expectRefused(await sign(claimsOf(alice), { ...realHeader(), jwk: attackerPublic }, attackerKey));
    await expectRefused(
      await sign(claimsOf(alice), { alg: 'EdDSA', typ: 'at+jwt', jku: `${app.url}/attacker/jwks.json` }, attackerKey),
    );
    await expectRefused(
      await sign(claimsOf(alice), { alg: 'EdDSA', typ: 'at+jwt', x5u: `${app.url}/attacker/cert.pem` }, attackerKey),
    );
  });

  it("[RFC 8725 §3.10] a kid pointing elsewhere (path traversal to /dev/null with an empty HMAC key, SQL injection, a URL, another instance's key) never selects a key", async () => {
    const claims = claimsOf(alice);
    await expectRefused(
      rawJws(
        { alg: 'HS256', typ: 'at+jwt', kid: '../../../../../../../../dev/null' },
        claims,
        hmacSigner('HS256', Buffer.alloc(0)),
      ),
    );
    await expectRefused(rawJws({ alg: 'HS256', typ: 'at+jwt', kid: '/dev/null' }, claims, hmacSigner('HS256', '')));
    await expectRefused(
      rawJws(
        { alg: 'HS256', typ: 'at+jwt', kid: "x' UNION SELECT 'attacker' --" },
        claims,
        hmacSigner('HS256', 'attacker'),
      ),
    );
    await expectRefused(
      rawJws({ alg: 'HS256', typ: 'at+jwt', kid: publicJwk.kid }, claims, hmacSigner('HS256', publicJwk.kid)),
    );
    await expectRefused(
      await sign(claims, { alg: 'EdDSA', typ: 'at+jwt', kid: 'https://attacker.example/keys/1' }, attackerKey),
    );
    const other = await request<{ keys: Array<{ kid: string }> }>(otherInstance.url, 'GET', '/.well-known/jwks.json');
    const otherKid = other.body.keys[0]?.kid ?? '';
    expect(otherKid).not.toBe(publicJwk.kid);
    await expectRefused(
      rawJws({ alg: 'EdDSA', typ: 'at+jwt', kid: otherKid }, claims, edSigner(devPrivateJwk(otherInstance))),
    );
  });

  it('[RFC 7515 §4.1.11] a real-key signature over a header with an unknown "crit" extension is refused', async () => {
    const rawSign = (header: Record<string, unknown>): string =>
      rawJws(header, claimsOf(alice), edSigner(devPrivateJwk(app)));
    // Control: the hand-rolled signer makes tokens the server accepts.
    expect((await request(app.url, 'GET', '/auth/me', { token: rawSign(realHeader()) })).status).toBe(200);
    await expectRefused(rawSign({ ...realHeader(), crit: ['x-must-understand'], 'x-must-understand': true }));
    await expectRefused(rawSign({ ...realHeader(), crit: ['exp'] }));
  });

  it('[RFC 7515 §7.2] the JWS JSON serialization (flattened; general with two signatures, one real) and compact tokens with extra segments are refused', async () => {
    const protectedHeader = base64url.encode(JSON.stringify(realHeader()));
    const payload = base64url.encode(JSON.stringify(claimsOf(alice)));
    const input = Buffer.from(`${protectedHeader}.${payload}`);
    const realSig = base64url.encode(edSigner(devPrivateJwk(app))(input));
    const otherSig = base64url.encode(edSigner(devPrivateJwk(otherInstance))(input));
    // Control: the same real signature in the compact serialization is accepted.
    expect((await me(app, `${protectedHeader}.${payload}.${realSig}`)).status).toBe(200);

    await expectRefused(JSON.stringify({ protected: protectedHeader, payload, signature: realSig }));
    await expectRefused(
      JSON.stringify({
        payload,
        signatures: [
          { protected: protectedHeader, signature: otherSig },
          { protected: protectedHeader, signature: realSig },
        ],
      }),
    );
    await expectRefused(base64url.encode(JSON.stringify({ protected: protectedHeader, payload, signature: realSig })));
    await expectRefused(`${protectedHeader}.${payload}.${otherSig}.${realSig}`);
    await expectRefused(`${protectedHeader}.${payload}.${realSig}.`);
  });

  it('[GHSA-hhhv-q57g-882q / RFC 8725 §3.6] a JWE (five segments, alg dir, compressed with zip DEF) in place of the JWS is refused', async () => {
    const payload = base64url.encode(JSON.stringify(claimsOf(alice)));
    for (const header of [
      { alg: 'dir', enc: 'A256GCM', typ: 'at+jwt' },
      { alg: 'dir', enc: 'A256GCM', zip: 'DEF', typ: 'at+jwt' },
      { alg: 'RSA-OAEP-256', enc: 'A128CBC-HS256', zip: 'DEF', typ: 'at+jwt', kid: publicJwk.kid },
    ]) {
      await expectRefused(
        `${base64url.encode(JSON.stringify(header))}..${base64url.encode(randomBytes(12))}.${payload}.${base64url.encode(randomBytes(16))}`,
      );
    }
  });

  it("[RFC 7515 §5.2 / RFC 8725 §3.3] tampered claims with the original signature kept (sub/sid to Bob's, exp pushed, isAdmin added, typ changed, Bob's signature grafted) are refused", async () => {
    const [header, payload, signature] = segments(alice.accessToken);
    const original = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as JWTPayload;
    const bobClaims = decodeJwt(bob.accessToken);
    const tampers: JWTPayload[] = [
      { ...original, sub: bob.user.id, sid: bobClaims.sid },
      { ...original, sub: bob.user.id },
      { ...original, sid: bobClaims.sid },
      { ...original, exp: (original.exp ?? 0) + 86_400 },
      { ...original, isAdmin: true },
    ];
    for (const t of tampers) await expectRefused(`${header}.${base64url.encode(JSON.stringify(t))}.${signature}`);
    // Changing only the header (typ) breaks the signature too.
    await expectRefused(`${base64url.encode(JSON.stringify({ ...realHeader(), typ: 'JWT' }))}.${payload}.${signature}`);
    // Another genuine token's signature does not carry over.
    await expectRefused(`${header}.${payload}.${segments(bob.accessToken)[2]}`);
    // The untouched original still works.
    expect((await request(app.url, 'GET', '/auth/me', { token: alice.accessToken })).status).toBe(200);
  });

  it.each([['JWT'], ['jwt'], ['at+jwt+x'], ['dpop+jwt'], ['application/jwt'], [undefined]])(
    '[RFC 9068 §2.1 / RFC 8725 §3.11] typ %s, signed with the real key, is refused',
    async (typ) => {
      const header: Header = typ === undefined ? { alg: 'EdDSA', kid: publicJwk.kid } : { ...realHeader(), typ };
      await expectRefused(await sign(claimsOf(alice), header, realKey));
    },
  );

  it('[RFC 8725 §3.8 / RFC 7519 §4.1.1] a wrong or missing iss, signed with the real key, is refused', async () => {
    await expectRefused(await signReal(claimsOf(alice, { iss: 'https://evil.example' })));
    await expectRefused(await signReal(claimsOf(alice, { iss: undefined })));
  });

  it('[RFC 8725 §3.9 / RFC 7519 §4.1.3] a wrong or missing aud, signed with the real key, is refused', async () => {
    await expectRefused(await signReal(claimsOf(alice, { aud: 'another-service' })));
    await expectRefused(await signReal(claimsOf(alice, { aud: undefined })));
  });

  it('[RFC 7519 §4.1.4] an expired token (signed with the real key) is refused 401 token_expired, with no leeway (exp one second ago)', async () => {
    await expectRefused(await signReal(claimsOf(alice, { iat: now() - 3600, exp: now() - 600 })), ['token_expired']);
    await expectRefused(await signReal(claimsOf(alice, { iat: now() - 60, exp: now() - 1 })), ['token_expired']);
  });

  it('[RFC 7519 §4.1.5] a token not valid yet (nbf an hour ahead) is refused', async () => {
    await expectRefused(await signReal(claimsOf(alice, { nbf: now() + 3600 })), ['invalid_token', 'token_expired']);
  });

  it('[RFC 9068 §2.2 / contract Tokens] required claims: a token without sub, sid, exp, iat or jti, or with a non-string sub/sid/jti or a non-numeric exp, is refused', async () => {
    for (const missing of ['sub', 'sid', 'exp', 'iat', 'jti'])
      await expectRefused(await signReal(claimsOf(alice, { [missing]: undefined })));
    const sub = decodeJwt(alice.accessToken).sub;
    const sid = decodeJwt(alice.accessToken).sid;
    for (const wrong of [
      { sub: [sub] },
      { sub: { id: sub } },
      { sid: [sid] },
      { jti: 42 },
      { exp: String(now() + 600) },
    ])
      await expectRefused(await signReal(claimsOf(alice, wrong)));
  });

  it('[contract Tokens "refuses a token whose user or family no longer exists"] a nonexistent sid, a nonexistent user, and a user/sid crossed between users are refused', async () => {
    await expectRefused(await signReal(claimsOf(alice, { sid: randomUUID() })));
    await expectRefused(await signReal(claimsOf(alice, { sub: randomUUID() })));
    // Bob's id with Alice's session: a session is bound to its own user.
    await expectRefused(await signReal(claimsOf(alice, { sub: bob.user.id })));
  });

  it('[contract Tokens] a token of a deleted user is refused before its exp', async () => {
    const doomed = await registerUser(app.url, 'doomed');
    expect((await request(app.url, 'GET', '/auth/me', { token: doomed.accessToken })).status).toBe(200);
    expect(withDb(app, (db) => db.prepare('DELETE FROM users WHERE id = ?').run(doomed.user.id).changes)).toBe(1);
    await expectRefused(doomed.accessToken);
    await expectRefused(await signReal(claimsOf(doomed)));
  });

  it('[CWE-613] a token of a disabled user is refused before its exp, and so is a fresh real-key token for it; its refresh token is refused too', async () => {
    const disabled = await registerUser(app.url, 'disabled');
    expect((await me(app, disabled.accessToken)).status).toBe(200);
    expect(
      withDb(
        app,
        (db) =>
          db.prepare('UPDATE users SET disabled_at = ? WHERE id = ?').run(new Date().toISOString(), disabled.user.id)
            .changes,
      ),
    ).toBe(1);
    await expectRefused(disabled.accessToken);
    await expectRefused(await signReal(claimsOf(disabled)));
    const res = await request(app.url, 'POST', '/auth/refresh', { body: { refreshToken: disabled.refreshToken } });
    expect(res.status).toBe(401);
    expect(codeOf(res)).toBe('invalid_refresh_token');
  });

  it('[CWE-613 / contract revocation] a freshly signed real-key token (new jti, new exp) for a logged-out family is refused', async () => {
    const user = await registerUser(app.url, 'revoked-resign');
    expect((await logout(app, user.accessToken, user.refreshToken)).status).toBe(204);
    await expectRefused(user.accessToken);
    await expectRefused(await signReal(claimsOf(user)));
  });

  it('[contract Tokens / RFC 7517] the development JWKS has exactly one public OKP/Ed25519 key with a kid and no private members', async () => {
    const res = await request<{ keys: JWK[] }>(app.url, 'GET', '/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.body.keys).toHaveLength(1);
    const [key] = res.body.keys as [JWK];
    expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: expect.any(String) });
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(member);
    expect(JSON.stringify(res.body)).not.toContain(devPrivateJwk(app).d);
    expect(key.kid).toBe(decodeProtectedHeader(alice.accessToken).kid);
  });

  it("[RFC 8725 §3.8] tokens of another instance's key pair are refused: its own user's genuine token, and Alice's claims signed with its key (its kid or ours)", async () => {
    const carol = await registerUser(otherInstance.url, 'carol');
    expect((await me(otherInstance, carol.accessToken)).status).toBe(200);
    await expectRefused(carol.accessToken);
    const otherKey = devPrivateJwk(otherInstance);
    const otherKid = decodeProtectedHeader(carol.accessToken).kid;
    await expectRefused(rawJws({ alg: 'EdDSA', typ: 'at+jwt', kid: otherKid }, claimsOf(alice), edSigner(otherKey)));
    await expectRefused(rawJws(realHeader(), claimsOf(alice), edSigner(otherKey)));
    // And the other way round.
    await expectRefusedEverywhere(otherInstance, alice.accessToken);
  });
});

describe('forged tokens, HS256 mode (JWT_SECRET_KEY)', () => {
  const SECRET = randomBytes(48).toString('base64url');
  const OTHER_SECRET = randomBytes(48).toString('base64url');
  let devApp: TestApp;
  let hsApp: TestApp;
  let hsOther: TestApp;
  beforeAll(async () => {
    [devApp, hsApp, hsOther] = await Promise.all([
      createTestApp(),
      createTestApp({ JWT_SECRET_KEY: SECRET }),
      createTestApp({ JWT_SECRET_KEY: OTHER_SECRET }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([devApp?.close(), hsApp?.close(), hsOther?.close()]);
  });

  const meStatus = async (app: TestApp, token: string): Promise<number> =>
    (await request(app.url, 'GET', '/auth/me', { token })).status;

  it('[contract Tokens] control: issued tokens are HS256 at+jwt and work on HTTP and at the upgrade; a token this test signs with the same secret is accepted', async () => {
    const user = await registerUser(hsApp.url, 'hs');
    expect(decodeProtectedHeader(user.accessToken)).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
    expect(decodeJwt(user.accessToken)).toMatchObject({
      sub: user.user.id,
      sid: expect.any(String),
      iat: expect.any(Number),
      exp: expect.any(Number),
      iss: expect.anything(),
      aud: expect.anything(),
      jti: expect.any(String),
    });
    expect(await meStatus(hsApp, user.accessToken)).toBe(200);
    expect(await upgradeWith(hsApp, user.accessToken, 'header')).toBe('open');
    expect(await upgradeWith(hsApp, user.accessToken, 'subprotocol')).toBe('open');
    const own = await new SignJWT(claimsFrom(user.accessToken))
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .sign(new TextEncoder().encode(SECRET));
    expect(await meStatus(hsApp, own)).toBe(200);
  });

  it('[contract Tokens / RFC 8725 §2.1] with JWT_SECRET_KEY the JWKS is {keys: []}: there is no public key to confuse, and the secret is never published', async () => {
    const res = await request(hsApp.url, 'GET', '/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ keys: [] });
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
  });

  it('[RFC 8725 §2.1, §3.1] an EdDSA-signed token with the right claims under an attacker key (bare, or with its jwk embedded) is refused by an HS256 server', async () => {
    const user = await registerUser(hsApp.url, 'hs-eddsa');
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const forged = await new SignJWT(claimsFrom(user.accessToken))
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' })
      .sign(privateKey);
    const res = await request(hsApp.url, 'GET', '/auth/me', { token: forged });
    expect(res.status).toBe(401);
    expect(codeOf(res)).toBe('invalid_token');
    expect(await upgradeWith(hsApp, forged, 'header')).toBe(401);
    await expectRefusedEverywhere(hsApp, forged);
    const embedded = await new SignJWT(claimsFrom(user.accessToken))
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', jwk: await exportJWK(publicKey) })
      .sign(privateKey);
    await expectRefusedEverywhere(hsApp, embedded);
  });

  it('[RFC 8725 §3.1 / CVE-2022-23540] the algorithm is pinned: HS384 and HS512 with the real secret, HS256 with another secret, and alg none are refused', async () => {
    const user = await registerUser(hsApp.url, 'hs-pin');
    const claims = claimsFrom(user.accessToken);
    const forgeries = [
      await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS384', typ: 'at+jwt' })
        .sign(new TextEncoder().encode(SECRET)),
      await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS512', typ: 'at+jwt' })
        .sign(new TextEncoder().encode(SECRET)),
      await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(randomBytes(48)),
      `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${base64url.encode(JSON.stringify(claims))}.`,
    ];
    for (const token of forgeries) {
      const res = await request(hsApp.url, 'GET', '/auth/me', { token });
      expect(res.status).toBe(401);
      expect(codeOf(res)).toBe('invalid_token');
      expect(await upgradeWith(hsApp, token, 'header')).toBe(401);
      expect(await upgradeWith(hsApp, token, 'subprotocol')).toBe(401);
    }
  });

  it('[RFC 8725 §3.5] HS256 under weak or partial keys (empty, "secret", the first 32 bytes of the real secret, its base64url-decoded bytes) is refused', async () => {
    const user = await registerUser(hsApp.url, 'hs-weak');
    const claims = claimsFrom(user.accessToken);
    const header = { alg: 'HS256', typ: 'at+jwt' };
    // Control: the hand-rolled HMAC signer with the real secret is accepted.
    expect(await meStatus(hsApp, rawJws(header, claims, hmacSigner('HS256', SECRET)))).toBe(200);
    for (const key of [Buffer.alloc(0), 'secret', SECRET.slice(0, 32), Buffer.from(SECRET, 'base64url')]) {
      await expectRefusedEverywhere(hsApp, rawJws(header, claims, hmacSigner('HS256', key)));
    }
  });

  it('[RFC 8725 §3.8] a token issued by another instance in the other mode is refused: development (EdDSA) ↔ HS256', async () => {
    const devUser = await registerUser(devApp.url, 'other-instance');
    expect(await meStatus(hsApp, devUser.accessToken)).toBe(401);
    expect(await upgradeWith(hsApp, devUser.accessToken, 'header')).toBe(401);
    const hsUser = await registerUser(hsApp.url, 'other-instance');
    expect(await meStatus(devApp, hsUser.accessToken)).toBe(401);
    expect(await upgradeWith(devApp, hsUser.accessToken, 'header')).toBe(401);
  });

  it('[RFC 8725 §3.8] a token of another HS256 instance (another JWT_SECRET_KEY) is refused, its genuine tokens and forged claims alike', async () => {
    const mine = await registerUser(hsApp.url, 'hs-mine');
    const theirs = await registerUser(hsOther.url, 'hs-theirs');
    expect(await meStatus(hsOther, theirs.accessToken)).toBe(200);
    await expectRefusedEverywhere(hsApp, theirs.accessToken);
    await expectRefusedEverywhere(hsOther, mine.accessToken);
    await expectRefusedEverywhere(
      hsApp,
      rawJws({ alg: 'HS256', typ: 'at+jwt' }, claimsFrom(mine.accessToken), hmacSigner('HS256', OTHER_SECRET)),
    );
  });
});

describe('expiry by the server clock (ACCESS_TOKEN_TTL_SECONDS=30)', () => {
  // The server's clock is moved forward by `clock.skewMs` (its `now` option drives issue and verification).
  let clockApp: TestApp;
  const clock = new SkewedClock();
  beforeAll(async () => {
    clockApp = await createTestApp(
      { ACCESS_TOKEN_TTL_SECONDS: '30', REFRESH_TOKEN_TTL_SECONDS: '1200' },
      { now: clock.now },
    );
  });
  afterAll(async () => {
    clock.skewMs = 0;
    await clockApp?.close();
  });

  it('[RFC 7519 §4.1.4] a genuine token past its exp: 401 token_expired on HTTP, 401 at the upgrade (header and subprotocol); its refresh token still works', async () => {
    clock.skewMs = 0;
    try {
      const user = await registerUser(clockApp.url, 'clock-at');
      expect((await request(clockApp.url, 'GET', '/auth/me', { token: user.accessToken })).status).toBe(200);
      for (const skew of [31_000, (30 + 120) * 1000]) {
        clock.skewMs = skew;
        await expectRefusedEverywhere(clockApp, user.accessToken, ['token_expired']);
      }
      clock.skewMs = 31_000;
      const renewed = await request<AuthResponse>(clockApp.url, 'POST', '/auth/refresh', {
        body: { refreshToken: user.refreshToken },
      });
      expect(renewed.status).toBe(200);
      expect(renewed.body.expiresIn).toBe(30);
      expect((await request(clockApp.url, 'GET', '/auth/me', { token: renewed.body.accessToken })).status).toBe(200);
    } finally {
      clock.skewMs = 0;
    }
  });
});
