// Server modes: DEMO_MODE, ADMIN_EMAILS (CONTRACT.md "Config", "HTTP API"). HS256 mode (JWT_SECRET_KEY) is attacked in
// test/attacks/forged-tokens.test.ts.
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthResponse } from '../../src/protocol/index.js';
import {
  createTestApp,
  registerUser,
  request,
  TestSocket,
  wsUrl,
  type HttpResult,
  type TestApp,
} from '../../src/testing/index.js';

type ErrorBody = { error: { code: string; message: string } };
const codeOf = (res: HttpResult<unknown>): string | undefined =>
  (res.body as Partial<ErrorBody> | undefined)?.error?.code;
const ADMIN = `Boss-${randomUUID()}@Example.com`;

let devApp: TestApp;
let demoApp: TestApp;
let adminApp: TestApp;
beforeAll(async () => {
  [devApp, demoApp, adminApp] = await Promise.all([
    createTestApp(),
    createTestApp({ DEMO_MODE: '1', LOGIN_ATTEMPTS_PER_MINUTE: '3' }),
    createTestApp({ ADMIN_EMAILS: `someone-else@example.com, ${ADMIN}` }),
  ]);
});
afterAll(async () => {
  await Promise.all([devApp?.close(), demoApp?.close(), adminApp?.close()]);
});

describe('POST /auth/demo', () => {
  it('contract: 404 when DEMO_MODE is off (and /ws/health says demoMode false)', async () => {
    for (const body of [{}, undefined]) {
      const res = await request(devApp.url, 'POST', '/auth/demo', body === undefined ? {} : { body });
      expect(res.status).toBe(404);
      expect(codeOf(res)).toBe('not_found');
    }
    expect((await request(devApp.url, 'GET', '/ws/health')).body).toMatchObject({ demoMode: false });
  });

  it('contract: with DEMO_MODE=1 each call is 201 for a new throwaway user; demo users are isolated from each other', async () => {
    expect((await request(demoApp.url, 'GET', '/ws/health')).body).toMatchObject({ demoMode: true });
    const first = await request<AuthResponse>(demoApp.url, 'POST', '/auth/demo', { body: {} });
    const second = await request<AuthResponse>(demoApp.url, 'POST', '/auth/demo');
    for (const res of [first, second]) {
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        user: { id: expect.any(String), isAdmin: false },
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
        tokenType: 'Bearer',
        expiresIn: expect.any(Number),
      });
      expect(res.headers.get('cache-control')).toContain('no-store');
    }
    expect(first.body.user.id).not.toBe(second.body.user.id);
    expect(first.body.user.email).not.toBe(second.body.user.email);
    expect(decodeJwt(first.body.accessToken).sub).toBe(first.body.user.id);

    // The first demo user starts a thread.
    const ws = await TestSocket.open(wsUrl(demoApp.url), {
      headers: { authorization: `Bearer ${first.body.accessToken}` },
    });
    ws.send({ type: 'user_message', id: 'd1', text: 'hello from demo one' });
    const ack = (await ws.next((m) => m.type === 'message_accepted')) as { runId: string; threadId: string };
    await ws.runEvents(ack.runId);
    ws.close();

    type Threads = { threads: Array<{ id: string }> };
    const mine = await request<Threads>(demoApp.url, 'GET', '/threads', { token: first.body.accessToken });
    expect(mine.body.threads.map((t) => t.id)).toContain(ack.threadId);
    const theirs = await request<Threads>(demoApp.url, 'GET', '/threads', { token: second.body.accessToken });
    expect(theirs.status).toBe(200);
    expect(theirs.body.threads).toEqual([]);
    const peek = await request(demoApp.url, 'GET', `/threads/${ack.threadId}/messages`, {
      token: second.body.accessToken,
    });
    expect(peek.status).toBe(404);
    expect(codeOf(peek)).toBe('not_found');
    expect(
      (await request(demoApp.url, 'GET', `/runs/${ack.runId}/events?after=0`, { token: second.body.accessToken }))
        .status,
    ).toBe(404);
  });

  it('contract: demo is rate limited (a burst of 30 gets 429 rate_limited + Retry-After)', async () => {
    let last: HttpResult<unknown> | undefined;
    for (let i = 0; i < 30; i++) {
      last = await request(demoApp.url, 'POST', '/auth/demo', { body: {} });
      if (last.status === 429) break;
    }
    expect(last?.status).toBe(429);
    expect(codeOf(last as HttpResult<unknown>)).toBe('rate_limited');
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('GET /auth/stats', () => {
  const FIELDS = [
    'totalValidations',
    'reuseAttemptsBlocked',
    'concurrentUsageDetected',
    'tokensExpiredCleanup',
    'activeTokenSessions',
    'activeSessionsByUser',
    'oldestSessionAgeSeconds',
  ];

  it('contract: 403 forbidden for a non-admin, 401 without a token', async () => {
    const user = await registerUser(adminApp.url, 'plain');
    const res = await request(adminApp.url, 'GET', '/auth/stats', { token: user.accessToken });
    expect(res.status).toBe(403);
    expect(codeOf(res)).toBe('forbidden');
    expect((await request(adminApp.url, 'GET', '/auth/stats')).status).toBe(401);
  });

  it('contract: 200 with every listed field for a user named in ADMIN_EMAILS (matched case-insensitively)', async () => {
    const reg = await request<AuthResponse>(adminApp.url, 'POST', '/auth/register', {
      body: { email: ADMIN.toLowerCase(), password: 'correct horse battery' },
    });
    expect(reg.status).toBe(201);
    expect(reg.body.user.isAdmin).toBe(true);
    const before = await request<Record<string, unknown>>(adminApp.url, 'GET', '/auth/stats', {
      token: reg.body.accessToken,
    });
    expect(before.status).toBe(200);
    for (const field of FIELDS) expect(before.body, field).toHaveProperty(field);
    for (const field of FIELDS.filter((f) => f !== 'activeSessionsByUser'))
      expect(typeof before.body[field], field).toBe('number');
    expect(typeof before.body.activeSessionsByUser).toBe('object');
    expect(before.body.activeTokenSessions as number).toBeGreaterThanOrEqual(1);

    // A blocked refresh-token reuse is counted.
    const victim = await registerUser(adminApp.url, 'victim');
    await request(adminApp.url, 'POST', '/auth/refresh', { body: { refreshToken: victim.refreshToken } });
    expect(
      codeOf(await request(adminApp.url, 'POST', '/auth/refresh', { body: { refreshToken: victim.refreshToken } })),
    ).toBe('refresh_token_reused');
    const after = await request<Record<string, number>>(adminApp.url, 'GET', '/auth/stats', {
      token: reg.body.accessToken,
    });
    expect(after.body.reuseAttemptsBlocked).toBeGreaterThan(before.body.reuseAttemptsBlocked as number);
    expect(after.body.totalValidations).toBeGreaterThan(before.body.totalValidations as number);
  });
});
