// POST /auth/refresh input validation (CONTRACT.md "HTTP API"). Rotation, reuse detection, logout and revocation
// are attacked in test/attacks/revocation.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import type { AuthResponse } from '../../src/protocol/index.js';
import {
  createTestApp,
  registerUser,
  request,
  SkewedClock,
  type HttpResult,
  type TestApp,
} from '../../src/testing/index.js';

type ErrorBody = { error: { code: string; message: string } };
const codeOf = (res: HttpResult<unknown>): string | undefined =>
  (res.body as Partial<ErrorBody> | undefined)?.error?.code;

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

describe('POST /auth/refresh', () => {
  it('contract: a missing or empty refreshToken is 400 invalid_request', async () => {
    for (const body of [{}, { refreshToken: '' }, { refreshToken: 42 }]) {
      const res = await request(app.url, 'POST', '/auth/refresh', { body });
      expect(res.status).toBe(400);
      expect(codeOf(res)).toBe('invalid_request');
    }
  });
});

describe('SESSION_MAX_AGE_SECONDS: a login has an absolute lifetime, however often it is refreshed', () => {
  const MAX_AGE_S = 600;
  const clock = new SkewedClock();
  let aged: TestApp;
  beforeAll(async () => {
    aged = await createTestApp(
      { SESSION_MAX_AGE_SECONDS: String(MAX_AGE_S), ACCESS_TOKEN_TTL_SECONDS: '300', REFRESH_TOKEN_TTL_SECONDS: '400' },
      { now: clock.now },
    );
  });
  afterAll(async () => {
    clock.skewMs = 0;
    await aged?.close();
  });

  it('refreshes keep working inside it, never beyond its end; past it the refresh is refused and the login revoked', async () => {
    clock.skewMs = 0;
    const loginAt = Math.floor(clock.now() / 1000);
    const user = await registerUser(aged.url, 'session-age');
    const refresh = (refreshToken: string) =>
      request<AuthResponse & ErrorBody>(aged.url, 'POST', '/auth/refresh', { body: { refreshToken } });
    const sessionEnd = loginAt + MAX_AGE_S;

    // Every refresh restarts REFRESH_TOKEN_TTL_SECONDS (400 s): without a cap, refreshing every 300 s lasts forever.
    clock.skewMs = 300_000;
    const first = await refresh(user.refreshToken);
    expect(first.status).toBe(200);
    // 590 s in: the new access token ends with the session, 10 s later, not ACCESS_TOKEN_TTL_SECONDS after.
    clock.skewMs = 590_000;
    const second = await refresh(first.body.refreshToken);
    expect(second.status).toBe(200);
    expect(second.body.expiresIn).toBeLessThanOrEqual(11);
    expect(decodeJwt(second.body.accessToken).exp).toBeLessThanOrEqual(sessionEnd + 1);
    expect((await request(aged.url, 'GET', '/auth/me', { token: second.body.accessToken })).status).toBe(200);

    clock.skewMs = (MAX_AGE_S + 5) * 1000;
    const late = await refresh(second.body.refreshToken);
    expect(late.status).toBe(401);
    expect(codeOf(late)).toBe('invalid_refresh_token');
    expect(late.body.error.message).toContain('log in again');
    // The login is over: its access token is refused too (it expired with the session).
    expect((await request(aged.url, 'GET', '/auth/me', { token: second.body.accessToken })).status).toBe(401);
  });
});
