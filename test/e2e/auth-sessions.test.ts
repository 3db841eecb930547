// Sessions: refresh rotation, reuse detection, logout, and what they do to open sockets
// (CONTRACT.md "HTTP API" /auth/refresh, /auth/logout; "Tokens"; WebSocket close codes; RFC 9700 4.14.2).
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthResponse } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type HttpResult, type TestApp } from '../../src/testing/index.js';

type ErrorBody = { error: { code: string; message: string } };
type User = Awaited<ReturnType<typeof registerUser>>;
const codeOf = (res: HttpResult<unknown>): string | undefined => (res.body as Partial<ErrorBody> | undefined)?.error?.code;

let app: TestApp;
// A second server whose clock the tests move forward: access tokens live 30 s, refresh tokens 1200 s.
let clockApp: TestApp;
let offsetMs = 0;
beforeAll(async () => {
  [app, clockApp] = await Promise.all([
    createTestApp(),
    createTestApp({ ACCESS_TOKEN_TTL_SECONDS: '30', REFRESH_TOKEN_TTL_SECONDS: '1200' }, { now: () => Date.now() + offsetMs }),
  ]);
});
afterAll(async () => {
  await Promise.all([app?.close(), clockApp?.close()]);
});

const refresh = (refreshToken: string): Promise<HttpResult<AuthResponse>> => request<AuthResponse>(app.url, 'POST', '/auth/refresh', { body: { refreshToken } });
const me = (token: string): Promise<HttpResult<unknown>> => request(app.url, 'GET', '/auth/me', { token });
const login = async (user: User): Promise<AuthResponse> => {
  const res = await request<AuthResponse>(app.url, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
  expect(res.status).toBe(200);
  return res.body;
};
const openWithBearer = (token: string): Promise<TestSocket> => TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${token}` } });
const openWithTicket = async (token: string): Promise<TestSocket> => {
  const t = await request<{ url: string }>(app.url, 'POST', '/ws/ticket', { token });
  expect(t.status).toBe(201);
  return TestSocket.open(t.body.url);
};
const upgradeStatus = async (token: string): Promise<number | 'open'> => {
  try {
    (await openWithBearer(token)).close();
    return 'open';
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
};
const stillAlive = async (ws: TestSocket): Promise<void> => {
  ws.send({ type: 'ping', id: 'alive' });
  await ws.waitFor((m) => m.type === 'pong', 5_000);
  expect(ws.closed).toBeUndefined();
};
const notExpired = (token: string): void => expect(decodeJwt(token).exp ?? 0).toBeGreaterThan(Date.now() / 1000 + 60);

describe('POST /auth/refresh', () => {
  it('contract: 200 gives a new pair with Cache-Control: no-store, and the new access token works', async () => {
    const user = await registerUser(app.url, 'rotate');
    const res = await refresh(user.refreshToken);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user: { id: user.user.id }, accessToken: expect.any(String), refreshToken: expect.any(String), tokenType: 'Bearer', expiresIn: 900 });
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect(res.body.refreshToken).not.toBe(user.refreshToken);
    expect(res.body.accessToken).not.toBe(user.accessToken);
    // Same login (family): the access token keeps its sid.
    expect(decodeJwt(res.body.accessToken).sid).toBe(decodeJwt(user.accessToken).sid);
    expect(decodeJwt(res.body.accessToken).sub).toBe(user.user.id);
    expect((await me(res.body.accessToken)).status).toBe(200);
    // The rotated token chains on.
    const again = await refresh(res.body.refreshToken);
    expect(again.status).toBe(200);
  });

  it('RFC 9700 4.14.2: replaying a spent refresh token → 401 refresh_token_reused, then the whole family is revoked before exp', async () => {
    const user = await registerUser(app.url, 'reuse');
    const second = await refresh(user.refreshToken);
    expect(second.status).toBe(200);
    const third = await refresh(second.body.refreshToken);
    expect(third.status).toBe(200);

    const replay = await refresh(user.refreshToken);
    expect(replay.status).toBe(401);
    expect(codeOf(replay)).toBe('refresh_token_reused');

    // The newest refresh token of the family is refused.
    const newest = await refresh(third.body.refreshToken);
    expect(newest.status).toBe(401);
    expect(codeOf(newest)).toBe('invalid_refresh_token');
    // Every access token of the family is refused, though none has reached its exp.
    for (const token of [user.accessToken, second.body.accessToken, third.body.accessToken]) {
      notExpired(token);
      const res = await me(token);
      expect(res.status).toBe(401);
      expect(codeOf(res)).toBe('invalid_token');
      expect(await upgradeStatus(token)).toBe(401);
    }
    // A ticket cannot be minted from the revoked family either.
    expect((await request(app.url, 'POST', '/ws/ticket', { token: third.body.accessToken })).status).toBe(401);
  });

  it('contract: replaying the spent token again keeps failing (and never resurrects the family)', async () => {
    const user = await registerUser(app.url, 'replay2');
    const next = await refresh(user.refreshToken);
    expect((await refresh(user.refreshToken)).status).toBe(401);
    const replayAgain = await refresh(user.refreshToken);
    expect(replayAgain.status).toBe(401);
    expect(['refresh_token_reused', 'invalid_refresh_token']).toContain(codeOf(replayAgain));
    expect((await refresh(next.body.refreshToken)).status).toBe(401);
  });

  it('contract "of concurrent refreshes with one token exactly one wins": 20 at once → exactly one 200', async () => {
    const user = await registerUser(app.url, 'race');
    const results = await Promise.all(Array.from({ length: 20 }, () => refresh(user.refreshToken)));
    const winners = results.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    for (const loser of results.filter((r) => r.status !== 200)) {
      expect(loser.status).toBe(401);
      expect(['refresh_token_reused', 'invalid_refresh_token']).toContain(codeOf(loser));
    }
  });

  it.each<[string, (u: User) => string]>([
    ['garbage', () => 'garbage'],
    ['a plausible-looking but unknown token', () => `rt_${'A'.repeat(43)}`],
    ['an access token', (u) => u.accessToken],
  ])('contract: %s as refreshToken → 401 invalid_refresh_token', async (_name, tokenOf) => {
    const user = await registerUser(app.url, 'badrt');
    const res = await refresh(tokenOf(user));
    expect(res.status).toBe(401);
    expect(codeOf(res)).toBe('invalid_refresh_token');
    // The user's real login is unaffected.
    expect((await me(user.accessToken)).status).toBe(200);
  });

  it('contract: a missing or empty refreshToken is 400 invalid_request', async () => {
    for (const body of [{}, { refreshToken: '' }, { refreshToken: 42 }]) {
      const res = await request(app.url, 'POST', '/auth/refresh', { body });
      expect(res.status).toBe(400);
      expect(codeOf(res)).toBe('invalid_request');
    }
  });
});

describe('POST /auth/logout', () => {
  it('contract: 204; afterwards the access token is refused on /auth/me and the refresh token is refused', async () => {
    const user = await registerUser(app.url, 'logout');
    const res = await request(app.url, 'POST', '/auth/logout', { token: user.accessToken, body: { refreshToken: user.refreshToken } });
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    notExpired(user.accessToken);
    const after = await me(user.accessToken);
    expect(after.status).toBe(401);
    expect(codeOf(after)).toBe('invalid_token');
    const rt = await refresh(user.refreshToken);
    expect(rt.status).toBe(401);
    expect(codeOf(rt)).toBe('invalid_refresh_token');
    expect(await upgradeStatus(user.accessToken)).toBe(401);
  });

  it('contract: logout revokes the family: a rotated (newer) access token of the same login is refused too', async () => {
    const user = await registerUser(app.url, 'logout-rotated');
    const rotated = await refresh(user.refreshToken);
    const res = await request(app.url, 'POST', '/auth/logout', { token: user.accessToken, body: { refreshToken: rotated.body.refreshToken } });
    expect(res.status).toBe(204);
    expect((await me(rotated.body.accessToken)).status).toBe(401);
    expect((await refresh(rotated.body.refreshToken)).status).toBe(401);
  });

  it('contract: logout without a Bearer token → 401, and the session stays alive', async () => {
    const user = await registerUser(app.url, 'logout-nobearer');
    const res = await request(app.url, 'POST', '/auth/logout', { body: { refreshToken: user.refreshToken } });
    expect(res.status).toBe(401);
    const garbage = await request(app.url, 'POST', '/auth/logout', { token: 'garbage', body: { refreshToken: user.refreshToken } });
    expect(garbage.status).toBe(401);
    expect((await me(user.accessToken)).status).toBe(200);
    expect((await refresh(user.refreshToken)).status).toBe(200);
  });

  it('OWASP: one user cannot log out another user\'s session with its refresh token', async () => {
    const alice = await registerUser(app.url, 'alice');
    const mallory = await registerUser(app.url, 'mallory');
    const res = await request(app.url, 'POST', '/auth/logout', { token: mallory.accessToken, body: { refreshToken: alice.refreshToken } });
    expect(res.status).toBe(401);
    expect((await me(alice.accessToken)).status).toBe(200);
    expect((await refresh(alice.refreshToken)).status).toBe(200);
  });
});

describe('revocation closes open sockets of the family only', () => {
  it('contract: after logout the family\'s sockets (Bearer and ticket) close 1008 "session revoked"; another login keeps working', async () => {
    const user = await registerUser(app.url, 'ws-logout');
    const other = await login(user);
    const byBearer = await openWithBearer(user.accessToken);
    const byTicket = await openWithTicket(user.accessToken);
    const otherWs = await openWithBearer(other.accessToken);

    const res = await request(app.url, 'POST', '/auth/logout', { token: user.accessToken, body: { refreshToken: user.refreshToken } });
    expect(res.status).toBe(204);
    expect(await byBearer.waitClose(5_000)).toEqual({ code: 1008, reason: 'session revoked' });
    expect(await byTicket.waitClose(5_000)).toEqual({ code: 1008, reason: 'session revoked' });

    await stillAlive(otherWs);
    expect((await me(other.accessToken)).status).toBe(200);
    expect((await refresh(other.refreshToken)).status).toBe(200);
    otherWs.close();
  });

  it('RFC 9700 4.14.2 + contract: refresh-token reuse closes the family\'s sockets 1008 "session revoked"; another login is untouched', async () => {
    const user = await registerUser(app.url, 'ws-reuse');
    const other = await login(user);
    const rotated = await refresh(user.refreshToken);
    const victimWs = await openWithBearer(rotated.body.accessToken);
    const oldTokenWs = await openWithBearer(user.accessToken);
    const otherWs = await openWithBearer(other.accessToken);

    const replay = await refresh(user.refreshToken);
    expect(codeOf(replay)).toBe('refresh_token_reused');
    expect(await victimWs.waitClose(5_000)).toEqual({ code: 1008, reason: 'session revoked' });
    expect(await oldTokenWs.waitClose(5_000)).toEqual({ code: 1008, reason: 'session revoked' });

    await stillAlive(otherWs);
    expect((await me(other.accessToken)).status).toBe(200);
    expect(await upgradeStatus(other.accessToken)).toBe('open');
    otherWs.close();
  });

  it('contract: a socket never outlives its family: reconnecting with the revoked token after logout is refused 401', async () => {
    const user = await registerUser(app.url, 'ws-reconnect');
    const ws = await openWithBearer(user.accessToken);
    await request(app.url, 'POST', '/auth/logout', { token: user.accessToken, body: { refreshToken: user.refreshToken } });
    await ws.waitClose(5_000);
    expect(await upgradeStatus(user.accessToken)).toBe(401);
    let subprotocolStatus: number | 'open' = 'open';
    try {
      (await TestSocket.open(wsUrl(app.url), { protocols: ['agentgate.v1', `bearer.${user.accessToken}`] })).close();
    } catch (err) {
      subprotocolStatus = (err as { status?: number }).status ?? -1;
    }
    expect(subprotocolStatus).toBe(401);
  });
});

describe('expiry by the server clock', () => {
  it('RFC 7519 4.1.4: past exp the access token gets 401 token_expired (HTTP) and 401 (upgrade); its refresh token still works', async () => {
    offsetMs = 0;
    const user = await registerUser(clockApp.url, 'clock-at');
    expect((await request(clockApp.url, 'GET', '/auth/me', { token: user.accessToken })).status).toBe(200);
    offsetMs = 31_000;
    const res = await request(clockApp.url, 'GET', '/auth/me', { token: user.accessToken });
    expect(res.status).toBe(401);
    expect(codeOf(res)).toBe('token_expired');
    let status: number | 'open' = 'open';
    try {
      (await TestSocket.open(wsUrl(clockApp.url), { headers: { authorization: `Bearer ${user.accessToken}` } })).close();
    } catch (err) {
      status = (err as { status?: number }).status ?? -1;
    }
    expect(status).toBe(401);
    const renewed = await request<AuthResponse>(clockApp.url, 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } });
    expect(renewed.status).toBe(200);
    expect(renewed.body.expiresIn).toBe(30);
    expect((await request(clockApp.url, 'GET', '/auth/me', { token: renewed.body.accessToken })).status).toBe(200);
    offsetMs = 0;
  });

  it('contract: a refresh token past REFRESH_TOKEN_TTL_SECONDS → 401 invalid_refresh_token', async () => {
    offsetMs = 0;
    const user = await registerUser(clockApp.url, 'clock-rt');
    offsetMs = 1_201_000;
    const res = await request(clockApp.url, 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } });
    expect(res.status).toBe(401);
    expect(codeOf(res)).toBe('invalid_refresh_token');
    offsetMs = 0;
  });
});
