import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AuthResponse } from '../../src/protocol/index.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { createTestApp, freePort, request, type TestApp } from '../../src/testing/index.js';
import { Browser, startOidcProvider, type OidcProviderHarness } from '../../src/testing/oidc-provider/index.js';
import { createTestDatabase, TEST_REDIS_URL, testRedisPrefix } from '../../src/testing/services.js';

/**
 * Behind a load balancer each request of one sign-in may reach another instance: the sign-in in progress and the
 * login code live in Redis, so start on A, callback on B and exchange on A work, and each stays single-use.
 */
describeWithServices(['postgres', 'redis'], 'OIDC sign-in across two instances (PostgreSQL + Redis)', () => {
  let idp: OidcProviderHarness;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    idp = await startOidcProvider({ claimsInIdToken: true });
    database = await createTestDatabase();
    // One public URL for both, as behind a load balancer: A listens on it, B elsewhere.
    const port = await freePort();
    const shared = {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: testRedisPrefix(),
      JWT_SECRET_KEY: randomBytes(48).toString('base64'),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      OIDC_ISSUER: idp.issuer,
      OIDC_CLIENT_ID: 'agentgate-cluster',
      OIDC_CLIENT_SECRET: 'agentgate-cluster-secret-0123456789',
    };
    a = await createTestApp({ ...shared, PORT: String(port) });
    b = await createTestApp(shared);
    idp.setClient({
      clientId: 'agentgate-cluster',
      clientSecret: 'agentgate-cluster-secret-0123456789',
      redirectUris: [`${shared.PUBLIC_URL}/auth/oidc/callback`],
      tokenEndpointAuthMethod: 'client_secret_basic',
    });
    idp.setAccount('cluster-user', { email: 'cluster@acme.example', email_verified: true });
    idp.nextAccount = 'cluster-user';
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await idp?.close();
    await database?.drop();
  });

  it('started on A, called back on B, exchanged on A: one user, and neither the state nor the code works twice', async () => {
    const browser = new Browser();
    const started = await browser.navigate(`${a.url}/auth/oidc/start?returnTo=/chat`);
    expect(started.status).toBe(302);
    const callback = await browser.followUntil(started.location!, (l) => l.pathname === '/auth/oidc/callback');
    const onB = new URL(`${callback.pathname}${callback.search}`, b.url);
    const landed = await browser.navigate(onB);
    expect(landed.status).toBe(302);
    const code = landed.location?.searchParams.get('login_code');
    expect(code, `callback on B answered ${landed.rawLocation}`).toBeTruthy();
    expect(landed.location?.pathname).toBe('/chat');

    // The same callback again, on A this time: the state was taken on B.
    const replay = await browser.navigate(new URL(`${callback.pathname}${callback.search}`, a.url));
    expect(replay.location?.searchParams.get('login_error')).toBe('invalid_oidc_callback');

    const exchange = (on: TestApp) =>
      browser.navigate(`${on.url}/auth/oidc/exchange`, {
        method: 'POST',
        body: JSON.stringify({ code }),
        headers: { 'content-type': 'application/json' },
      });
    const signedIn = await exchange(a);
    expect(signedIn.status).toBe(200);
    const body = JSON.parse(signedIn.text) as AuthResponse;
    const me = await request<{ user: { id: string } }>(b.url, 'GET', '/auth/me', { token: body.accessToken });
    expect(me.status).toBe(200);
    expect(me.body.user.id).toBe(body.user.id);
    // Spent on A, so refused on B.
    expect((await exchange(b)).status).toBe(401);
  });
});
