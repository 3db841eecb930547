// Sign in with an OpenID Connect provider (CONTRACT "Sign in with an OpenID Connect provider"), end to end against a
// real provider (oidc-provider, src/testing/oidc-provider) and a browser made of fetch and a cookie jar.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuthResponse, MeResponse } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, SkewedClock, type TestApp } from '../../src/testing/index.js';
import {
  Browser,
  startOidcProvider,
  type AccountClaims,
  type BrowserResponse,
  type ClientSettings,
  type OidcProviderHarness,
  type SignInResult,
} from '../../src/testing/oidc-provider/index.js';
import { codeOf, expectAuthResponse } from '../attacks/helpers/identity.js';

const SECRET = 'agentgate-client-secret-0123456789';
const clock = new SkewedClock();
let idp: OidcProviderHarness; // claims at userinfo (the ID token of a code flow carries sub only)
let idpClaims: OidcProviderHarness; // claims in the ID token
let idpPost: OidcProviderHarness; // offers client_secret_post only
let app: TestApp;
let publicApp: TestApp;
let claimsApp: TestApp;
let postApp: TestApp;
let offApp: TestApp;
let startLimited: TestApp;
let exchangeLimited: TestApp;

const client = (a: TestApp, clientId: string, method: ClientSettings['tokenEndpointAuthMethod']): ClientSettings => ({
  clientId,
  ...(method === 'none' ? {} : { clientSecret: SECRET }),
  redirectUris: [`${a.url}/auth/oidc/callback`],
  tokenEndpointAuthMethod: method,
});

beforeAll(async () => {
  [idp, idpClaims, idpPost] = await Promise.all([
    startOidcProvider(),
    startOidcProvider({ claimsInIdToken: true }),
    startOidcProvider({ tokenEndpointAuthMethods: ['client_secret_post'] }),
  ]);
  const env = (p: OidcProviderHarness, clientId: string, secret = true) => ({
    OIDC_ISSUER: p.issuer,
    OIDC_CLIENT_ID: clientId,
    ...(secret ? { OIDC_CLIENT_SECRET: SECRET } : {}),
  });
  const limited = { ...env(idp, 'agentgate-limited'), LOGIN_ATTEMPTS_PER_MINUTE: '3' };
  [app, publicApp, claimsApp, postApp, offApp, startLimited, exchangeLimited] = await Promise.all([
    createTestApp({ ...env(idp, 'agentgate'), OIDC_DISPLAY_NAME: 'Acme SSO' }, { now: clock.now }),
    createTestApp(env(idp, 'agentgate-public', false)),
    createTestApp(env(idpClaims, 'agentgate')),
    createTestApp(env(idpPost, 'agentgate')),
    createTestApp(),
    createTestApp(limited),
    createTestApp(limited),
  ]);
  // The redirect URI names the app's port, known only now.
  idp.setClient(client(app, 'agentgate', 'client_secret_basic'));
  idp.setClient(client(publicApp, 'agentgate-public', 'none'));
  idpClaims.setClient(client(claimsApp, 'agentgate', 'client_secret_basic'));
  idpPost.setClient(client(postApp, 'agentgate', 'client_secret_post'));
});
afterAll(async () => {
  const apps = [app, publicApp, claimsApp, postApp, offApp, startLimited, exchangeLimited];
  await Promise.all(apps.map((a) => a?.close()));
  await Promise.all([idp, idpClaims, idpPost].map((p) => p?.close()));
});
afterEach(() => {
  clock.skewMs = 0;
  for (const p of [idp, idpClaims, idpPost]) {
    p.tamperIdToken = undefined;
    p.nextInteraction = 'login';
    expect(p.serverErrors, 'the provider reported no server error').toEqual([]);
  }
});

// ---- helpers ------------------------------------------------------------------------------------------------------

/** A fresh account at `p`, chosen for the next login. */
function account(p: OidcProviderHarness, claims: AccountClaims = {}): string {
  const sub = `sub-${randomUUID()}`;
  p.setAccount(sub, { email: `${sub}@example.com`, email_verified: true, name: 'Ada', ...claims });
  p.nextAccount = sub;
  return sub;
}

function userCount(a: TestApp): number {
  const db = new Database(join(a.dataDir, 'agentgate.sqlite'), { readonly: true, timeout: 5_000 });
  try {
    return (db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const loginCode = (r: SignInResult): string | null => r.location?.searchParams.get('login_code') ?? null;

/** Sign-in and exchange as `browser`; the login body. */
async function signIn(a: TestApp, browser = new Browser(), returnTo?: string): Promise<AuthResponse> {
  const result = await browser.start(a.url, returnTo);
  const code = loginCode(result);
  expect(
    code,
    `no login_code: ${result.response.status} ${result.response.rawLocation} ${result.response.text}`,
  ).toEqual(expect.any(String));
  const res = await browser.exchange<AuthResponse>(a.url, code ?? '');
  expectAuthResponse(res, 200);
  return res.body;
}

/**
 * A refused callback as the contract allows it: 400 invalid_oidc_callback, or a redirect to returnTo (same origin)
 * with login_error. Never a login code, never a token in the URL.
 */
function expectRefused(a: TestApp, res: BrowserResponse, returnTo = '/'): void {
  expect(res.location?.searchParams.has('login_code') ?? false, 'no login code').toBe(false);
  if (res.status === 400) {
    expect(codeOf({ body: JSON.parse(res.text) as unknown })).toBe('invalid_oidc_callback');
    return;
  }
  expect([302, 303], `a redirect or 400, got ${res.status}: ${res.text}`).toContain(res.status);
  expect(res.location?.origin).toBe(new URL(a.url).origin);
  expect(res.location?.pathname).toBe(returnTo);
  expect(res.location?.searchParams.get('login_error')).toMatch(/^[A-Za-z0-9_.-]+$/);
  expect(res.rawLocation ?? '').not.toMatch(/eyJ|access_token|id_token|refresh/);
}

async function me(a: TestApp, token: string): Promise<MeResponse['user']> {
  const res = await request<MeResponse>(a.url, 'GET', '/auth/me', { token });
  expect(res.status).toBe(200);
  return res.body.user;
}

// ---- the tests ----------------------------------------------------------------------------------------------------

describe('GET /auth/providers and the feature switch', () => {
  it('lists {id: "oidc", name: OIDC_DISPLAY_NAME}; the default name is "Single sign-on"', async () => {
    const named = await request(app.url, 'GET', '/auth/providers');
    expect(named.status).toBe(200);
    expect(named.body).toEqual({ providers: [{ id: 'oidc', name: 'Acme SSO' }] });
    const unnamed = await request(publicApp.url, 'GET', '/auth/providers');
    expect(unnamed.body).toEqual({ providers: [{ id: 'oidc', name: 'Single sign-on' }] });
  });

  it('without OIDC_ISSUER: an empty list, and every /auth/oidc/* route is 404', async () => {
    expect((await request(offApp.url, 'GET', '/auth/providers')).body).toEqual({ providers: [] });
    expect((await request(offApp.url, 'GET', '/auth/oidc/start?returnTo=/')).status).toBe(404);
    expect((await request(offApp.url, 'GET', '/auth/oidc/callback?code=x&state=y')).status).toBe(404);
    expect((await request(offApp.url, 'POST', '/auth/oidc/exchange', { body: { code: 'x' } })).status).toBe(404);
  });
});

describe('the whole flow', () => {
  it('start: 302 to the provider with code + PKCE S256 + state + nonce, and an HttpOnly SameSite=Lax cookie ≤ 10 min', async () => {
    const browser = new Browser();
    const start = await browser.navigate(`${app.url}/auth/oidc/start?returnTo=%2Fchat`);
    expect(start.status).toBe(302);
    expect(start.location?.origin).toBe(idp.issuer);
    const q = start.location?.searchParams ?? new URLSearchParams();
    expect(q.get('response_type')).toBe('code');
    expect(q.get('client_id')).toBe('agentgate');
    expect(q.get('redirect_uri')).toBe(`${app.url}/auth/oidc/callback`);
    expect(q.get('scope')?.split(' ').sort()).toEqual(['email', 'openid', 'profile']);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('state')?.length).toBeGreaterThanOrEqual(16);
    expect(q.get('nonce')?.length).toBeGreaterThanOrEqual(16);
    expect(start.rawLocation).not.toContain('/chat'); // returnTo stays on the server, not in the state
    const cookies = start.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const c of cookies) {
      expect(c).toMatch(/;\s*HttpOnly/i);
      expect(c).toMatch(/;\s*SameSite=Lax/i);
      const maxAge = /Max-Age=(\d+)/i.exec(c)?.[1];
      const expires = /Expires=([^;]+)/i.exec(c)?.[1];
      const lifetime = maxAge !== undefined ? Number(maxAge) : (Date.parse(expires ?? '') - Date.now()) / 1000;
      expect(lifetime).toBeGreaterThan(0);
      expect(lifetime).toBeLessThanOrEqual(600);
    }
    // Two starts, two states and two PKCE challenges.
    const again = await new Browser().navigate(`${app.url}/auth/oidc/start`);
    expect(again.location?.searchParams.get('state')).not.toBe(q.get('state'));
    expect(again.location?.searchParams.get('code_challenge')).not.toBe(q.get('code_challenge'));
  });

  it('a first sign-in creates the user; login_code comes back on returnTo (query kept); its tokens work', async () => {
    account(idp, { email: `New-${randomUUID()}@Example.com` });
    const before = userCount(app);
    const browser = new Browser();
    const result = await browser.start(app.url, '/chat?tab=2');
    expect(result.response.status).toBe(302);
    expect(result.location?.origin).toBe(new URL(app.url).origin);
    expect(result.location?.pathname).toBe('/chat');
    expect(result.location?.searchParams.get('tab')).toBe('2');
    expect(loginCode(result)).toEqual(expect.any(String));
    expect(result.response.rawLocation).not.toMatch(/eyJ|access_token|id_token|refresh/);
    const res = await browser.exchange<AuthResponse>(app.url, loginCode(result) ?? '');
    expectAuthResponse(res, 200);
    expect(userCount(app)).toBe(before + 1);
    expect((await me(app, res.body.accessToken)).id).toBe(res.body.user.id);
    const refreshed = await request<AuthResponse>(app.url, 'POST', '/auth/refresh', {
      body: { refreshToken: res.body.refreshToken },
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.user.id).toBe(res.body.user.id);
    expect(idp.authorizationRequests.at(-1)?.get('client_id')).toBe('agentgate');
  });

  it('the same provider account twice (new browser, then the same one) is the same user', async () => {
    account(idp);
    const browser = new Browser();
    const first = await signIn(app, browser);
    const before = userCount(app);
    const second = await signIn(app, new Browser());
    const third = await signIn(app, browser);
    expect(second.user.id).toBe(first.user.id);
    expect(third.user.id).toBe(first.user.id);
    expect(userCount(app)).toBe(before);
    account(idp);
    expect((await signIn(app, browser)).user.id, 'another sub is another user').not.toBe(first.user.id);
  });

  it('a public client (no OIDC_CLIENT_SECRET, token_endpoint_auth_method none) signs in with PKCE alone', async () => {
    account(idp);
    const body = await signIn(publicApp);
    expect((await me(publicApp, body.accessToken)).id).toBe(body.user.id);
    expect(idp.authorizationRequests.at(-1)?.get('client_id')).toBe('agentgate-public');
  });

  it('a provider that offers client_secret_post only: the app authenticates that way', async () => {
    account(idpPost);
    const body = await signIn(postApp);
    expect((await me(postApp, body.accessToken)).id).toBe(body.user.id);
  });
});

describe('rate limits (LOGIN_ATTEMPTS_PER_MINUTE=3)', () => {
  async function burst(send: () => Promise<{ status: number; body: unknown }>): Promise<void> {
    let last: { status: number; body: unknown } | undefined;
    for (let i = 0; i < 10 && last?.status !== 429; i++) last = await send();
    expect(last?.status).toBe(429);
    expect(codeOf(last ?? { body: undefined })).toBe('rate_limited');
  }

  it('start counts against the login limit', async () => {
    await burst(async () => {
      const res = await new Browser().navigate(`${startLimited.url}/auth/oidc/start`);
      return { status: res.status, body: res.status === 429 ? (JSON.parse(res.text) as unknown) : undefined };
    });
  });

  it('exchange counts against the login limit', async () => {
    await burst(() => new Browser().exchange(exchangeLimited.url, `guess-${randomUUID()}`));
  });
});

describe('login codes', () => {
  it('a code works once: the replay is 401 invalid_login_code, even with the cookie the first exchange had', async () => {
    account(idp);
    const browser = new Browser();
    const result = await browser.start(app.url);
    const code = loginCode(result) ?? '';
    const sameCookie = browser.fork(); // the exchange may clear the cookie: the replay must fail on the server
    expect((await browser.exchange(app.url, code)).status).toBe(200);
    for (const replayer of [browser, sameCookie]) {
      const replay = await replayer.exchange(app.url, code);
      expect(replay.status).toBe(401);
      expect(codeOf(replay)).toBe('invalid_login_code');
    }
  });

  it("another browser's code is 401 invalid_login_code (fresh browser, or one with its own sign-in)", async () => {
    account(idp);
    const owner = new Browser();
    const code = loginCode(await owner.start(app.url)) ?? '';
    const stranger = new Browser();
    const withOwnFlow = new Browser();
    const ownCode = loginCode(await withOwnFlow.start(app.url));
    expect(ownCode).toEqual(expect.any(String));
    for (const other of [stranger, withOwnFlow]) {
      const res = await other.exchange(app.url, code);
      expect(res.status).toBe(401);
      expect(codeOf(res)).toBe('invalid_login_code');
    }
    const noCookie = await request(app.url, 'POST', '/auth/oidc/exchange', { body: { code } });
    expect(noCookie.status).toBe(401);
    expect(codeOf(noCookie)).toBe('invalid_login_code');
  });

  it('malformed and unknown codes are 401 invalid_login_code', async () => {
    const browser = new Browser();
    account(idp);
    const real = loginCode(await browser.start(app.url)) ?? '';
    const flipped = real.slice(0, -1) + (real.endsWith('A') ? 'B' : 'A');
    for (const code of ['not-a-code', 'x', randomUUID(), flipped, '', 'c'.repeat(513)]) {
      const res = await browser.exchange(app.url, code);
      expect(res.status, code).toBe(401);
      expect(codeOf(res)).toBe('invalid_login_code');
    }
  });

  it('a code older than 60 s is 401 invalid_login_code', async () => {
    account(idp);
    const browser = new Browser();
    const code = loginCode(await browser.start(app.url)) ?? '';
    clock.skewMs = 61_000;
    const res = await browser.exchange(app.url, code);
    expect(res.status).toBe(401);
    expect(codeOf(res)).toBe('invalid_login_code');
  });
});

describe('the callback refuses', () => {
  it('a replayed callback (same state, same cookie as the first time): no second code', async () => {
    account(idp);
    const browser = new Browser();
    const callbackUrl = await browser.authorize(app.url);
    const sameCookie = browser.fork(); // the callback may replace the cookie: the state must be spent on the server
    const first = await browser.navigate(callbackUrl);
    expect(first.location?.searchParams.get('login_code')).toEqual(expect.any(String));
    expectRefused(app, await sameCookie.navigate(callbackUrl));
    expectRefused(app, await browser.navigate(callbackUrl));
  });

  it("another browser's callback: a fresh browser, or one with a sign-in of its own in progress", async () => {
    account(idp);
    const before = userCount(app);
    const victim = new Browser();
    const callbackUrl = await victim.authorize(app.url);
    expectRefused(app, await new Browser().navigate(callbackUrl));
    const attacker = new Browser();
    await attacker.authorize(app.url);
    expectRefused(app, await attacker.navigate(callbackUrl));
    expect(userCount(app)).toBe(before);
  });

  it('a state changed in the URL, a missing state, and a callback after the 10-minute window', async () => {
    account(idp);
    const browser = new Browser();
    const callbackUrl = await browser.authorize(app.url);
    const changed = new URL(callbackUrl);
    changed.searchParams.set('state', 'not-the-state');
    expectRefused(app, await browser.navigate(changed));
    const missing = new URL(callbackUrl);
    missing.searchParams.delete('state');
    expectRefused(app, await browser.navigate(missing));

    const late = new Browser();
    const lateUrl = await late.authorize(app.url);
    clock.skewMs = 11 * 60_000;
    expectRefused(app, await late.navigate(lateUrl));
  });

  it('a refused consent (error=access_denied) → login_error on returnTo, no user created', async () => {
    account(idp);
    idp.nextInteraction = 'refuse';
    const before = userCount(app);
    const browser = new Browser();
    const result = await browser.start(app.url, '/settings');
    expect(result.callbackUrl.searchParams.get('error')).toBe('access_denied');
    expectRefused(app, result.response, '/settings');
    expect(userCount(app)).toBe(before);
  });

  it('a provider error with a genuine state is still an error (not a code exchange)', async () => {
    account(idp);
    const browser = new Browser();
    const callbackUrl = await browser.authorize(app.url);
    const forged = new URL('/auth/oidc/callback', app.url);
    forged.search = new URLSearchParams({
      error: 'server_error',
      state: callbackUrl.searchParams.get('state') ?? '',
      iss: idp.issuer,
    }).toString();
    expectRefused(app, await browser.navigate(forged));
  });
});

describe('ID tokens the app must reject (no login code, no user)', () => {
  const past = () => Math.floor(Date.now() / 1000) - 3600;
  const cases: Array<[string, (p: OidcProviderHarness) => OidcProviderHarness['tamperIdToken']]> = [
    ['a wrong nonce', () => (c) => ({ claims: { ...c, nonce: 'someone-elses-nonce' } })],
    ['no nonce', () => (c) => ({ claims: { ...c, nonce: undefined } })],
    ['a wrong issuer', () => (c) => ({ claims: { ...c, iss: 'http://127.0.0.1:9/other-issuer' } })],
    ['a wrong audience', () => (c) => ({ claims: { ...c, aud: 'another-client' } })],
    ['an expired token', () => (c) => ({ claims: { ...c, iat: past() - 60, exp: past() } })],
    ['a foreign key (same kid)', (p) => () => ({ signer: p.foreignKey })],
    ['alg none', () => () => ({ signer: { alg: 'none' } })],
    ['HS256 keyed with the public key', (p) => () => ({ signer: p.confusedSigner })],
  ];

  it('control: the same ID token re-signed unchanged by the provider key signs in', async () => {
    account(idp);
    idp.tamperIdToken = (c) => ({ claims: c });
    await signIn(app);
  });

  it.each(cases)('%s', async (_name, tamper) => {
    account(idp);
    idp.tamperIdToken = tamper(idp);
    const before = userCount(app);
    const result = await new Browser().start(app.url, '/home');
    expectRefused(app, result.response, '/home');
    expect(userCount(app)).toBe(before);
  });
});

describe('returnTo: only a path on this site', () => {
  it.each([
    ['//evil.com', '//evil.com'],
    ['/\\evil.com', '/\\evil.com'],
    ['\\\\evil.com', '\\\\evil.com'],
    ['https://evil.com', 'https://evil.com'],
    ['javascript:alert(1)', 'javascript:alert(1)'],
    ['/ CR LF header injection', '/\r\nSet-Cookie: x=1'],
    ['/ TAB', '/\t/evil.com'],
    ['/ DEL', '/a\u007fb'],
    ['non-ASCII (a Location header cannot carry it)', '/caf\u00e9/\u20ac'],
    ['a C1 control', '/a\u0085b'],
    ['a space', '/a b'],
    ['relative (no leading /)', 'chat'],
    ['empty', ''],
  ])('%s falls back to /', async (_name, returnTo) => {
    account(idp);
    const result = await new Browser().start(app.url, returnTo);
    const raw = result.response.rawLocation ?? '';
    expect(raw).not.toMatch(/^\/\/|^[a-z]+:|\\|evil/i);
    expect([...raw].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)).toBe(false);
    expect(result.location?.origin).toBe(new URL(app.url).origin);
    expect(result.location?.pathname).toBe('/');
    expect(loginCode(result)).toEqual(expect.any(String));
  });

  it('NUL: falls back to /, or is refused at the edge like any NUL in a request (400 invalid_request)', async () => {
    account(idp);
    const browser = new Browser();
    const start = new URL('/auth/oidc/start', app.url);
    start.searchParams.set('returnTo', '/a\u0000b');
    const first = await browser.navigate(start);
    if (first.status === 400) {
      expect(codeOf({ body: JSON.parse(first.text) as unknown })).toBe('invalid_request');
      return;
    }
    const callbackUrl = await browser.followUntil(first.location ?? '', (u) => u.pathname === '/auth/oidc/callback');
    const res = await browser.navigate(callbackUrl);
    expect(res.location?.origin).toBe(new URL(app.url).origin);
    expect(res.location?.pathname).toBe('/');
  });

  it('the fallback holds on the error path too', async () => {
    account(idp);
    idp.nextInteraction = 'refuse';
    const result = await new Browser().start(app.url, '//evil.com');
    expectRefused(app, result.response, '/');
  });
});

describe('linking to a password account by email', () => {
  const passwordUser = (a: TestApp) => registerUser(a.url, 'linked');

  it.each([
    ['userinfo', () => idp, () => app],
    ['the ID token', () => idpClaims, () => claimsApp],
  ])('email_verified: true (from %s), email in another case → the same user', async (_from, p, a) => {
    const user = await passwordUser(a());
    account(p(), { email: user.email.toUpperCase(), email_verified: true });
    const body = await signIn(a());
    expect(body.user.id).toBe(user.user.id);
    const login = await request<AuthResponse>(a().url, 'POST', '/auth/login', {
      body: { email: user.email, password: user.password },
    });
    expect(login.status).toBe(200);
    expect(login.body.user.id).toBe(user.user.id);
  });

  it.each<[string, AccountClaims['email_verified'] | undefined]>([
    ['false', false],
    ['missing', undefined],
    ['the string "true"', 'true'],
  ])('email_verified %s → another user; the password account is untouched', async (_name, verified) => {
    for (const [p, a] of [
      [idp, app],
      [idpClaims, claimsApp],
    ] as const) {
      const user = await passwordUser(a);
      const sub = account(p);
      p.setAccount(
        sub,
        verified === undefined ? { email: user.email } : { email: user.email, email_verified: verified },
      );
      const body = await signIn(a);
      expect(body.user.id).not.toBe(user.user.id);
      const login = await request<AuthResponse>(a.url, 'POST', '/auth/login', {
        body: { email: user.email, password: user.password },
      });
      expect(login.status).toBe(200);
      expect(login.body.user.id).toBe(user.user.id);
      expect(login.body.user.email).toBe(user.email);
      // Signing in again with that provider account finds the same (unlinked) user.
      expect((await signIn(a)).user.id).toBe(body.user.id);
    }
  });
});
