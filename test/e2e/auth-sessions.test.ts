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
  TestSocket,
  wsUrl,
  type TestApp,
} from '../../src/testing/index.js';
import { codeOf, PASSWORD, type ErrorBody } from '../attacks/helpers/identity.js';

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

describe('one user and their logins: GET /auth/sessions, DELETE /auth/sessions[/:id], POST /auth/password', () => {
  async function twoLogins(prefix: string) {
    const first = await registerUser(app.url, prefix);
    const second = await request<AuthResponse>(app.url, 'POST', '/auth/login', {
      body: { email: first.user.email, password: PASSWORD },
    });
    expect(second.status).toBe(200);
    return { first, second: second.body };
  }
  const sessionsOf = (token: string) =>
    request<{ sessions: Array<{ id: string; createdAt: string; lastUsedAt: string; current: boolean }> }>(
      app.url,
      'GET',
      '/auth/sessions',
      { token },
    );
  const me = async (token: string) => (await request(app.url, 'GET', '/auth/me', { token })).status;
  const refresh = async (refreshToken: string) =>
    (await request(app.url, 'POST', '/auth/refresh', { body: { refreshToken } })).status;

  it('lists the live logins, the asking one marked current; ending another one ends its tokens and its sockets', async () => {
    const { first, second } = await twoLogins('sessions');
    const listed = await sessionsOf(first.accessToken);
    expect(listed.status).toBe(200);
    expect(listed.body.sessions).toHaveLength(2);
    expect(listed.body.sessions.filter((s) => s.current)).toHaveLength(1);
    const other = listed.body.sessions.find((s) => !s.current)!;
    expect(other.id).toBe(decodeJwt(second.accessToken).sid);

    const ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${second.accessToken}` } });
    expect((await request(app.url, 'DELETE', `/auth/sessions/${other.id}`, { token: first.accessToken })).status).toBe(
      204,
    );
    expect(await ws.waitClose(5_000)).toMatchObject({ code: 1008, reason: 'session revoked' });
    expect(await me(second.accessToken)).toBe(401);
    expect(await refresh(second.refreshToken)).toBe(401);
    expect(await me(first.accessToken)).toBe(200);
    expect((await sessionsOf(first.accessToken)).body.sessions.map((s) => s.id)).toEqual([
      decodeJwt(first.accessToken).sid,
    ]);
    // Gone, unknown, or someone else's: the same 404.
    const stranger = await registerUser(app.url, 'sessions-stranger');
    for (const id of [other.id, 'no-such-session', decodeJwt(stranger.accessToken).sid as string]) {
      expect((await request(app.url, 'DELETE', `/auth/sessions/${id}`, { token: first.accessToken })).status).toBe(404);
    }
    expect(await me(stranger.accessToken)).toBe(200);
  });

  it('"log out everywhere" ends every login of the user, the asking one included, and no one else\'s', async () => {
    const { first, second } = await twoLogins('everywhere');
    const stranger = await registerUser(app.url, 'everywhere-stranger');
    expect((await request(app.url, 'DELETE', '/auth/sessions', { token: second.accessToken })).status).toBe(204);
    for (const login of [first, second]) {
      expect(await me(login.accessToken)).toBe(401);
      expect(await refresh(login.refreshToken)).toBe(401);
    }
    expect(await me(stranger.accessToken)).toBe(200);
  });

  it('changing the password needs the current one, ends every login, and starts a new one', async () => {
    const { first, second } = await twoLogins('password');
    const change = (body: unknown) =>
      request<AuthResponse & ErrorBody>(app.url, 'POST', '/auth/password', { token: first.accessToken, body });
    const wrong = await change({ currentPassword: 'not it at all', newPassword: 'a brand new secret' });
    expect(wrong.status).toBe(401);
    expect(codeOf(wrong)).toBe('invalid_credentials');
    const weak = await change({ currentPassword: PASSWORD, newPassword: 'password' });
    expect(weak.status).toBe(400);
    expect(codeOf(weak)).toBe('invalid_request');
    expect(await me(first.accessToken)).toBe(200);

    const changed = await change({ currentPassword: PASSWORD, newPassword: 'a brand new secret' });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ tokenType: 'Bearer', user: { id: first.user.id } });
    for (const login of [first, second]) {
      expect(await me(login.accessToken)).toBe(401);
      expect(await refresh(login.refreshToken)).toBe(401);
    }
    expect(await me(changed.body.accessToken)).toBe(200);
    const login = (password: string) =>
      request(app.url, 'POST', '/auth/login', { body: { email: first.user.email, password } });
    expect((await login(PASSWORD)).status).toBe(401);
    expect((await login('a brand new secret')).status).toBe(200);
  });
});
