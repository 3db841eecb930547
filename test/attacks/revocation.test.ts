// Refresh-token rotation, reuse detection and logout, and what they do to the family's access tokens and open
// sockets (RFC 9700 §4.14.2; CONTRACT.md "HTTP API" /auth/refresh, /auth/logout, "Tokens", WebSocket close codes).
// A revoked family's access tokens are refused at once, before their exp, on HTTP and at the upgrade; its open
// sockets close 1008 `session revoked`; other families of the same user are untouched.
import { setTimeout as delay } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthResponse } from '../../src/protocol/index.js';
import { startCluster, type Cluster, type Instance } from '../../src/testing/cluster.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import {
  createTestApp,
  registerUser,
  request,
  SkewedClock,
  TestSocket,
  wsUrl,
  type HttpResult,
  type TestApp,
} from '../../src/testing/index.js';
import {
  codeOf,
  login as loginOn,
  logout as logoutOn,
  me as meOn,
  mintTicket,
  openBearer,
  openSubprotocol,
  openTicket,
  RawWs,
  refresh as refreshOn,
  stillAlive,
  upgradeWith,
  type User,
} from './helpers/tokens.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

const refresh = (refreshToken: string): Promise<HttpResult<AuthResponse>> => refreshOn(app, refreshToken);
const me = (token: string): Promise<HttpResult<unknown>> => meOn(app, token);
const login = (user: User): Promise<AuthResponse> => loginOn(app, user);
const logout = (accessToken: string, refreshToken: string): Promise<HttpResult<unknown>> =>
  logoutOn(app, accessToken, refreshToken);
const notExpired = (token: string): void => expect(decodeJwt(token).exp ?? 0).toBeGreaterThan(Date.now() / 1000 + 60);
const SESSION_REVOKED = { code: 1008, reason: 'session revoked' };

describe('refresh-token rotation and reuse detection', () => {
  it('[RFC 9700 §4.14.2] rotation: 200 gives a new pair with Cache-Control: no-store, in the same family (sid), and the new access token works', async () => {
    const user = await registerUser(app.url, 'rotate');
    const res = await refresh(user.refreshToken);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      user: { id: user.user.id },
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      tokenType: 'Bearer',
      expiresIn: 900,
    });
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

  it('[RFC 9700 §4.14.2] replaying a spent refresh token → 401 refresh_token_reused, then the whole family is revoked before exp (HTTP 401 and upgrade 401)', async () => {
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
      expect(await upgradeWith(app, token, 'header')).toBe(401);
      expect(await upgradeWith(app, token, 'subprotocol')).toBe(401);
    }
    // A ticket cannot be minted from the revoked family either.
    expect((await request(app.url, 'POST', '/ws/ticket', { token: third.body.accessToken })).status).toBe(401);
  });

  it('[RFC 9700 §4.14.2] replaying the spent token again keeps failing and never resurrects the family', async () => {
    const user = await registerUser(app.url, 'replay2');
    const next = await refresh(user.refreshToken);
    expect((await refresh(user.refreshToken)).status).toBe(401);
    const replayAgain = await refresh(user.refreshToken);
    expect(replayAgain.status).toBe(401);
    expect(['refresh_token_reused', 'invalid_refresh_token']).toContain(codeOf(replayAgain));
    expect((await refresh(next.body.refreshToken)).status).toBe(401);
  });

  it('[RFC 9700 §4.14.2 / CWE-362 / contract "of concurrent refreshes with one token exactly one wins"] 20 refreshes at once → exactly one 200', async () => {
    const user = await registerUser(app.url, 'race');
    const results = await Promise.all(Array.from({ length: 20 }, () => refresh(user.refreshToken)));
    const winners = results.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    for (const loser of results.filter((r) => r.status !== 200)) {
      expect(loser.status).toBe(401);
      expect(['refresh_token_reused', 'invalid_refresh_token']).toContain(codeOf(loser));
    }
  });

  it.each<[string, string]>([
    ['garbage', 'garbage'],
    ['a plausible-looking but unknown token', `rt_${'A'.repeat(43)}`],
  ])(
    '[RFC 9700 §4.14.2 / contract HTTP API] %s as refreshToken → 401 invalid_refresh_token, and no login is affected',
    async (_name, token) => {
      const user = await registerUser(app.url, 'badrt');
      const res = await refresh(token);
      expect(res.status).toBe(401);
      expect(codeOf(res)).toBe('invalid_refresh_token');
      // The user's real login is unaffected.
      expect((await me(user.accessToken)).status).toBe(200);
    },
  );

  it('[RFC 9700 §4.14.2] a ticket minted before a refresh-token reuse is refused 401 after it', async () => {
    const user = await registerUser(app.url, 'reuse-ticket');
    const { url } = await mintTicket(app, user.accessToken);
    expect((await refresh(user.refreshToken)).status).toBe(200);
    expect(codeOf(await refresh(user.refreshToken))).toBe('refresh_token_reused');
    let status: number | 'open' = 'open';
    try {
      (await TestSocket.open(url)).close();
    } catch (err) {
      status = (err as { status?: number }).status ?? -1;
    }
    expect(status).toBe(401);
  });
});

describe('logout', () => {
  it('[RFC 9700 §4.14.2 / OWASP Session Management Cheat Sheet] 204; afterwards the access token is refused (HTTP and upgrade) before its exp, and the refresh token is refused', async () => {
    const user = await registerUser(app.url, 'logout');
    const res = await logout(user.accessToken, user.refreshToken);
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    notExpired(user.accessToken);
    const after = await me(user.accessToken);
    expect(after.status).toBe(401);
    expect(codeOf(after)).toBe('invalid_token');
    const rt = await refresh(user.refreshToken);
    expect(rt.status).toBe(401);
    expect(codeOf(rt)).toBe('invalid_refresh_token');
    expect(await upgradeWith(app, user.accessToken)).toBe(401);
  });

  it('[RFC 9700 §4.14.2] logout revokes the family: a rotated (newer) access token of the same login is refused too', async () => {
    const user = await registerUser(app.url, 'logout-rotated');
    const rotated = await refresh(user.refreshToken);
    const res = await logout(user.accessToken, rotated.body.refreshToken);
    expect(res.status).toBe(204);
    expect((await me(rotated.body.accessToken)).status).toBe(401);
    expect((await refresh(rotated.body.refreshToken)).status).toBe(401);
  });

  it('[OWASP Session Management Cheat Sheet] logout without a (valid) Bearer token → 401, and the session stays alive', async () => {
    const user = await registerUser(app.url, 'logout-nobearer');
    const res = await request(app.url, 'POST', '/auth/logout', { body: { refreshToken: user.refreshToken } });
    expect(res.status).toBe(401);
    const garbage = await request(app.url, 'POST', '/auth/logout', {
      token: 'garbage',
      body: { refreshToken: user.refreshToken },
    });
    expect(garbage.status).toBe(401);
    expect((await me(user.accessToken)).status).toBe(200);
    expect((await refresh(user.refreshToken)).status).toBe(200);
  });

  it("[OWASP Session Management Cheat Sheet] one user cannot log out another user's session with its refresh token", async () => {
    const alice = await registerUser(app.url, 'alice');
    const mallory = await registerUser(app.url, 'mallory');
    const res = await logout(mallory.accessToken, alice.refreshToken);
    expect(res.status).toBe(401);
    expect((await me(alice.accessToken)).status).toBe(200);
    expect((await refresh(alice.refreshToken)).status).toBe(200);
  });

  it('[RFC 9700 §4.14.2 / CWE-362] logout racing a refresh of the same family: whatever the order, no token of the family works afterwards', async () => {
    for (let i = 0; i < 5; i++) {
      const user = await registerUser(app.url, `logout-race-${i}`);
      const [out, rotated] = await Promise.all([
        logout(user.accessToken, user.refreshToken),
        refresh(user.refreshToken),
      ]);
      // The logout names the family by its refresh token, spent by the refresh or not: it always succeeds.
      expect(out.status, `race ${i}`).toBe(204);
      expect([200, 401]).toContain(rotated.status);
      const survivors = [user.accessToken, ...(rotated.status === 200 ? [rotated.body.accessToken] : [])];
      for (const token of survivors) {
        expect((await me(token)).status, `race ${i}`).toBe(401);
        expect(await upgradeWith(app, token), `race ${i}`).toBe(401);
      }
      if (rotated.status === 200) expect((await refresh(rotated.body.refreshToken)).status, `race ${i}`).toBe(401);
    }
  });
});

describe('revocation closes the open sockets of the family, and only those', () => {
  it('[RFC 9700 §4.14.2 / contract close codes] after logout the family\'s sockets (Bearer, ticket, subprotocol) close 1008 "session revoked"; another login and another user keep working', async () => {
    const user = await registerUser(app.url, 'ws-logout');
    const stranger = await registerUser(app.url, 'ws-stranger');
    const other = await login(user);
    const byBearer = await openBearer(app, user.accessToken);
    const byTicket = await openTicket(app, user.accessToken);
    const bySubprotocol = await openSubprotocol(app, user.accessToken);
    const otherWs = await openBearer(app, other.accessToken);
    const strangerWs = await openBearer(app, stranger.accessToken);

    const res = await logout(user.accessToken, user.refreshToken);
    expect(res.status).toBe(204);
    expect(await byBearer.waitClose(5_000)).toEqual(SESSION_REVOKED);
    expect(await byTicket.waitClose(5_000)).toEqual(SESSION_REVOKED);
    expect(await bySubprotocol.waitClose(5_000)).toEqual(SESSION_REVOKED);

    await stillAlive(otherWs);
    await stillAlive(strangerWs);
    expect((await me(other.accessToken)).status).toBe(200);
    expect((await refresh(other.refreshToken)).status).toBe(200);
    otherWs.close();
    strangerWs.close();
  });

  it('[RFC 9700 §4.14.2 / contract close codes] refresh-token reuse closes the family\'s sockets 1008 "session revoked", old and rotated tokens\' alike; another login is untouched', async () => {
    const user = await registerUser(app.url, 'ws-reuse');
    const other = await login(user);
    const rotated = await refresh(user.refreshToken);
    const victimWs = await openBearer(app, rotated.body.accessToken);
    const oldTokenWs = await openBearer(app, user.accessToken);
    const otherWs = await openBearer(app, other.accessToken);

    const replay = await refresh(user.refreshToken);
    expect(codeOf(replay)).toBe('refresh_token_reused');
    expect(await victimWs.waitClose(5_000)).toEqual(SESSION_REVOKED);
    expect(await oldTokenWs.waitClose(5_000)).toEqual(SESSION_REVOKED);

    await stillAlive(otherWs);
    expect((await me(other.accessToken)).status).toBe(200);
    expect(await upgradeWith(app, other.accessToken)).toBe('open');
    otherWs.close();
  });

  it('[CWE-613] a socket never outlives its family: reconnecting with the revoked token after logout is refused 401 (header and subprotocol)', async () => {
    const user = await registerUser(app.url, 'ws-reconnect');
    const ws = await openBearer(app, user.accessToken);
    await logout(user.accessToken, user.refreshToken);
    await ws.waitClose(5_000);
    expect(await upgradeWith(app, user.accessToken)).toBe(401);
    let subprotocolStatus: number | 'open' = 'open';
    try {
      (await TestSocket.open(wsUrl(app.url), { protocols: ['agentgate.v1', `bearer.${user.accessToken}`] })).close();
    } catch (err) {
      subprotocolStatus = (err as { status?: number }).status ?? -1;
    }
    expect(subprotocolStatus).toBe(401);
  });

  it('[CWE-613] a socket re-authenticated with a token of another family of its user follows that family: logging it out closes the socket 1008 "session revoked"', async () => {
    const user = await registerUser(app.url, 'ws-reauth');
    const second = await login(user);
    const ws = await openBearer(app, user.accessToken);
    ws.send({ type: 'authenticate', id: 'switch', token: second.accessToken });
    expect(await ws.waitFor((m) => m.type === 'authenticated' && m.replyTo === 'switch', 5_000)).toBeDefined();
    expect((await logout(second.accessToken, second.refreshToken)).status).toBe(204);
    expect(await ws.waitClose(5_000)).toEqual(SESSION_REVOKED);
  });
});

describe('upgrades racing a revocation', () => {
  it('[CWE-367 / RFC 9700 §4.14.2] one instance: of 20 upgrades racing a logout, every socket that opens is closed 1008 "session revoked"', async () => {
    let opened = 0;
    for (let round = 0; round < 10; round++) {
      const user = await registerUser(app.url, `race-upgrade-${round}`);
      // Spread over 20 ms, with the logout sent somewhere in the middle: some upgrades finish before, some after.
      const attempts = Array.from({ length: 20 }, (_, i) =>
        delay(i)
          .then(() => openBearer(app, user.accessToken))
          .catch(() => undefined),
      );
      await delay(4 + (round % 6));
      const out = logout(user.accessToken, user.refreshToken);
      const sockets = (await Promise.all(attempts)).filter((ws): ws is TestSocket => ws !== undefined);
      expect((await out).status).toBe(204);
      opened += sockets.length;
      try {
        for (const ws of sockets) expect(await ws.waitClose(2_000), `round ${round}`).toEqual(SESSION_REVOKED);
      } finally {
        for (const ws of sockets) ws.close();
      }
    }
    expect(opened).toBeGreaterThan(0);
  });
});

describe('refresh-token lifetime by the server clock', () => {
  let clockApp: TestApp;
  const clock = new SkewedClock();
  beforeAll(async () => {
    clockApp = await createTestApp(
      { ACCESS_TOKEN_TTL_SECONDS: '30', REFRESH_TOKEN_TTL_SECONDS: '1200' },
      { now: clock.now },
    );
  });
  afterAll(async () => {
    await clockApp?.close();
  });

  it('[RFC 9700 §4.14.2] a refresh token past REFRESH_TOKEN_TTL_SECONDS → 401 invalid_refresh_token', async () => {
    clock.skewMs = 0;
    try {
      const user = await registerUser(clockApp.url, 'clock-rt');
      clock.skewMs = 1_201_000;
      const res = await request(clockApp.url, 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } });
      expect(res.status).toBe(401);
      expect(codeOf(res)).toBe('invalid_refresh_token');
    } finally {
      clock.skewMs = 0;
    }
  });
});

describeWithServices(
  ['postgres', 'redis'],
  'revocation across instances (two instances sharing PostgreSQL and Redis)',
  () => {
    let cluster: Cluster;
    let a: Instance;
    let b: Instance;
    beforeAll(async () => {
      cluster = await startCluster(2, { MAX_CONNECTIONS_PER_USER: '1000' });
      [a, b] = cluster.instances as [Instance, Instance];
    }, 90_000);
    afterAll(async () => {
      await cluster?.close();
    });

    const status = async (instance: Instance, token: string): Promise<number | 'open'> => {
      try {
        (await TestSocket.open(wsUrl(instance.url), { headers: { authorization: `Bearer ${token}` } })).close();
        return 'open';
      } catch (err) {
        return (err as { status?: number }).status ?? -1;
      }
    };

    it('[RFC 9700 §4.14.2 / contract revocation] logout on one instance closes the family\'s sockets on the other 1008 "session revoked" and the token is refused there at once; a reuse detected on the second closes sockets on the first', async () => {
      const user = await registerUser(a.url, 'cross');
      const onB = await TestSocket.open(wsUrl(b.url), { headers: { authorization: `Bearer ${user.accessToken}` } });
      const out = await request(a.url, 'POST', '/auth/logout', {
        token: user.accessToken,
        body: { refreshToken: user.refreshToken },
      });
      expect(out.status).toBe(204);
      expect((await request(b.url, 'GET', '/auth/me', { token: user.accessToken })).status).toBe(401);
      expect(await status(b, user.accessToken)).toBe(401);
      expect(await onB.waitClose(5_000)).toEqual(SESSION_REVOKED);

      const second = await request<AuthResponse>(b.url, 'POST', '/auth/login', {
        body: { email: user.email, password: user.password },
      });
      expect(second.status).toBe(200);
      const onA = await TestSocket.open(wsUrl(a.url), {
        headers: { authorization: `Bearer ${second.body.accessToken}` },
      });
      expect(
        (await request(a.url, 'POST', '/auth/refresh', { body: { refreshToken: second.body.refreshToken } })).status,
      ).toBe(200);
      const replay = await request(b.url, 'POST', '/auth/refresh', {
        body: { refreshToken: second.body.refreshToken },
      });
      expect(codeOf(replay)).toBe('refresh_token_reused');
      expect(await onA.waitClose(5_000)).toEqual(SESSION_REVOKED);
      expect(await status(a, second.body.accessToken)).toBe(401);
    });

    // Found against HEAD fe3a49a: the upgrade checked the session (src/gateway/upgrade-auth.ts, AuthService.authenticate)
    // and then awaited the connection slot (leases.acquire, a Redis round trip) before accept() added the connection to
    // the registry; a revocation announced in between found no socket to close, and the socket stayed open and kept
    // acting for the user until its token's exp. The working tree now re-checks the session once the connection is
    // registered (src/gateway/gateway.ts, accept()); this test keeps that fixed.
    it('[CWE-367 / RFC 9700 §4.14.2 / contract revocation] two instances: of 30 raw upgrades on one racing a logout on the other, every one that gets 101 is closed 1008 "session revoked"', async () => {
      let upgraded = 0;
      for (let round = 0; round < 20; round++) {
        const user = await registerUser(a.url, `toctou-${round}`);
        const attempts = Array.from({ length: 30 }, (_, i) =>
          delay(i % 12).then(() => RawWs.upgrade(b, { Authorization: `Bearer ${user.accessToken}` })),
        );
        await delay(round % 4);
        const out = request(a.url, 'POST', '/auth/logout', {
          token: user.accessToken,
          body: { refreshToken: user.refreshToken },
        });
        const sockets = (await Promise.all(attempts)).filter((r): r is RawWs => r instanceof RawWs);
        expect((await out).status).toBe(204);
        upgraded += sockets.length;
        try {
          for (const ws of sockets) {
            await ws.until(
              (r) => r.closeFrame !== undefined,
              3_000,
              `round ${round}: the close of a socket of the revoked family`,
            );
            expect(ws.closeFrame, `round ${round}`).toEqual(SESSION_REVOKED);
          }
        } finally {
          for (const ws of sockets) ws.destroy();
        }
      }
      expect(upgraded).toBeGreaterThan(0);
    }, 120_000);
  },
);
