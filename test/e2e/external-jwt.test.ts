// The identity provider's own access tokens as agentgate access tokens (CONTRACT "Sign in with an OpenID Connect
// provider", EXTERNAL_JWT_*): real JWTs from oidc-provider, and forgeries signed with keys the harness holds.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuthResponse, MeResponse } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';
import { Browser, startOidcProvider, type OidcProviderHarness } from '../../src/testing/oidc-provider/index.js';
import { codeOf } from '../attacks/helpers/identity.js';
import { refusedStatus } from './helpers/wire.js';

let idp: OidcProviderHarness;
let app: TestApp; // JWKS from discovery
let jwksApp: TestApp; // EXTERNAL_JWT_JWKS_URL set
let bothApp: TestApp; // OIDC sign-in and external tokens from the same provider
const SECRET = 'agentgate-client-secret-0123456789';

beforeAll(async () => {
  idp = await startOidcProvider();
  const external = { EXTERNAL_JWT_ISSUER: idp.issuer, EXTERNAL_JWT_AUDIENCE: idp.resource };
  [app, jwksApp, bothApp] = await Promise.all([
    createTestApp(external),
    createTestApp({ ...external, EXTERNAL_JWT_JWKS_URL: `${idp.issuer}/jwks` }),
    createTestApp({ ...external, OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: 'agentgate', OIDC_CLIENT_SECRET: SECRET }),
  ]);
  idp.setClient({
    clientId: 'agentgate',
    clientSecret: SECRET,
    redirectUris: [`${bothApp.url}/auth/oidc/callback`],
    tokenEndpointAuthMethod: 'client_secret_basic',
  });
});
afterAll(async () => {
  await Promise.all([app, jwksApp, bothApp].map((a) => a?.close()));
  await idp?.close();
});
afterEach(() => {
  idp.accessTokenAlg = 'RS256';
  expect(idp.serverErrors).toEqual([]);
});

const newSub = (): string => `ext-${randomUUID()}`;
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
const now = (): number => Math.floor(Date.now() / 1000);

async function meStatus(a: TestApp, token: string): Promise<{ status: number; id: string | undefined }> {
  const res = await request<MeResponse>(a.url, 'GET', '/auth/me', { token });
  return { status: res.status, id: res.status === 200 ? res.body.user.id : undefined };
}

describe('real access tokens from the provider', () => {
  it.each(['RS256', 'ES256'] as const)('%s: GET /auth/me works, and the same sub is the same user', async (alg) => {
    idp.accessTokenAlg = alg;
    const sub = newSub();
    const first = await meStatus(app, await idp.accessToken(sub));
    expect(first.status).toBe(200);
    const again = await meStatus(app, await idp.accessToken(sub));
    expect(again).toEqual(first);
    const other = await meStatus(app, await idp.accessToken(newSub()));
    expect(other.status).toBe(200);
    expect(other.id).not.toBe(first.id);
  });

  it('with EXTERNAL_JWT_JWKS_URL instead of discovery', async () => {
    expect((await meStatus(jwksApp, await idp.accessToken(newSub()))).status).toBe(200);
  });

  it('POST /ws/ticket, then the ticket upgrade, as that user', async () => {
    const token = await idp.accessToken(newSub());
    const { id } = await meStatus(app, token);
    const res = await request<{ ticket: string; url: string }>(app.url, 'POST', '/ws/ticket', { token, body: {} });
    expect(res.status).toBe(201);
    const ws = await TestSocket.open(res.body.url);
    expect(ws.messages[0]).toMatchObject({ type: 'connection_established', userId: id });
    ws.close();
  });

  it('/ws with Authorization: Bearer, and with the bearer.<token> subprotocol', async () => {
    const token = await idp.accessToken(newSub());
    const { id } = await meStatus(app, token);
    const byHeader = await TestSocket.open(wsUrl(app.url), bearer(token));
    expect(byHeader.messages[0]).toMatchObject({ type: 'connection_established', userId: id });
    byHeader.close();
    const byProtocol = await TestSocket.open(wsUrl(app.url), { protocols: ['agentgate.v1', `bearer.${token}`] });
    expect(byProtocol.ws.protocol).toBe('agentgate.v1');
    expect(byProtocol.messages[0]).toMatchObject({ type: 'connection_established', userId: id });
    byProtocol.close();
  });

  it('a socket opened with one closes 4001 at its exp', async () => {
    const token = await idp.sign(idp.accessTokenClaims(newSub(), { exp: now() + 3 }), idp.keys.rs256, {
      typ: 'at+jwt',
    });
    const ws = await TestSocket.open(wsUrl(app.url), bearer(token));
    const closed = await ws.waitClose(15_000);
    expect(closed.code).toBe(4001);
  });

  it('the same (issuer, sub) signed in through OIDC and through an access token is one user', async () => {
    const sub = newSub();
    idp.setAccount(sub, { email: `${sub}@example.com`, email_verified: true });
    idp.nextAccount = sub;
    const browser = new Browser();
    const result = await browser.start(bothApp.url);
    const code = result.location?.searchParams.get('login_code');
    expect(code, result.response.text).toEqual(expect.any(String));
    const login = await browser.exchange<AuthResponse>(bothApp.url, code ?? '');
    expect(login.status).toBe(200);
    expect((await meStatus(bothApp, await idp.accessToken(sub))).id).toBe(login.body.user.id);
  });

  it("agentgate's own access tokens still work beside them", async () => {
    const user = await registerUser(app.url, 'own');
    expect((await meStatus(app, user.accessToken)).id).toBe(user.user.id);
  });
});

describe('tokens refused (401)', () => {
  const at = { typ: 'at+jwt' };
  const forgeries: Array<[string, (p: OidcProviderHarness) => Promise<string>]> = [
    ['signed by another key (same kid)', (p) => p.sign(p.accessTokenClaims(newSub()), p.foreignKey, at)],
    ['expired', (p) => p.sign(p.accessTokenClaims(newSub(), { iat: now() - 7200, exp: now() - 3600 }), undefined, at)],
    [
      'not yet valid (nbf in an hour)',
      (p) => p.sign(p.accessTokenClaims(newSub(), { nbf: now() + 3600 }), undefined, at),
    ],
    [
      'another audience',
      (p) => p.sign(p.accessTokenClaims(newSub(), { aud: 'https://other.example/api' }), undefined, at),
    ],
    ['another issuer', (p) => p.sign(p.accessTokenClaims(newSub(), { iss: 'https://evil.example' }), undefined, at)],
    ['no exp', (p) => p.sign(p.accessTokenClaims(newSub(), { exp: undefined }), undefined, at)],
    ['no sub', (p) => p.sign(p.accessTokenClaims(newSub(), { sub: undefined }), undefined, at)],
    ['an ID token (it carries a nonce)', (p) => p.sign(p.accessTokenClaims(newSub(), { nonce: 'n-1' }), undefined, at)],
    ['alg none', (p) => p.sign(p.accessTokenClaims(newSub()), { alg: 'none' }, at)],
    ['HS256 keyed with the public key', (p) => p.sign(p.accessTokenClaims(newSub()), p.confusedSigner, at)],
    [
      'HS256 with a guessable secret',
      (p) => p.sign(p.accessTokenClaims(newSub()), { alg: 'HS256', secret: new TextEncoder().encode('secret') }, at),
    ],
  ];

  it('control: the same claims signed by the provider key are accepted', async () => {
    const token = await idp.sign(idp.accessTokenClaims(newSub()), idp.keys.rs256, at);
    expect((await meStatus(app, token)).status).toBe(200);
  });

  it.each(forgeries)('%s: GET /auth/me, POST /ws/ticket and /ws', async (_name, forge) => {
    const token = await forge(idp);
    expect((await meStatus(app, token)).status).toBe(401);
    expect((await request(app.url, 'POST', '/ws/ticket', { token, body: {} })).status).toBe(401);
    expect(await refusedStatus(wsUrl(app.url), bearer(token))).toBe(401);
    expect(await refusedStatus(wsUrl(app.url), { protocols: ['agentgate.v1', `bearer.${token}`] })).toBe(401);
  });

  it('a genuine provider token is no refresh token and no ticket', async () => {
    const token = await idp.accessToken(newSub());
    const refresh = await request(app.url, 'POST', '/auth/refresh', { body: { refreshToken: token } });
    // 400 invalid_request: refresh tokens are at most 512 characters (a JWT is longer); 401 otherwise.
    expect([400, 401]).toContain(refresh.status);
    expect(['invalid_request', 'invalid_refresh_token']).toContain(codeOf(refresh));
    expect(await refusedStatus(wsUrl(app.url, `?ticket=${encodeURIComponent(token)}`))).toBe(401);
  });

  it('an app without EXTERNAL_JWT_* refuses them', async () => {
    const plain = await createTestApp();
    try {
      expect((await meStatus(plain, await idp.accessToken(newSub()))).status).toBe(401);
    } finally {
      await plain.close();
    }
  });
});
