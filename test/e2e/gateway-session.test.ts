import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestApp,
  registerUser,
  request,
  SkewedClock,
  TestSocket,
  wsUrl,
  type TestApp,
} from '../../src/testing/index.js';

/**
 * The life of an open connection: heartbeats, token expiry and renewal (CONTRACT "WebSocket: GET /ws"). Identity
 * switches with `authenticate` are attacked in test/attacks/identity-switch.test.ts.
 * The server's clock is shifted by `clock.skewMs` (its `now` option drives token issue, verification and the expiry
 * timers), so a token can be brought to within seconds of its exp without a 30 s wait.
 */

type User = Awaited<ReturnType<typeof registerUser>>;

const TTL_SECONDS = 30;
const clock = new SkewedClock();
let app: TestApp;
let alice: User;
beforeAll(async () => {
  app = await createTestApp(
    { HEARTBEAT_INTERVAL_MS: '1000', ACCESS_TOKEN_TTL_SECONDS: String(TTL_SECONDS) },
    { now: clock.now },
  );
  alice = await registerUser(app.url, 'alice');
});
afterEach(() => {
  clock.skewMs = 0;
});
afterAll(async () => {
  await app?.close();
});

const open = (token: string, options: Parameters<typeof TestSocket.open>[1] = {}) =>
  TestSocket.open(wsUrl(app.url), { ...options, headers: { authorization: `Bearer ${token}` } });

async function login(user: User): Promise<{ accessToken: string; refreshToken: string }> {
  const res = await request<{ accessToken: string; refreshToken: string }>(app.url, 'POST', '/auth/login', {
    body: { email: user.email, password: user.password },
  });
  expect(res.status).toBe(200);
  return res.body;
}

async function stillOpen(ws: TestSocket, id: string): Promise<void> {
  ws.send({ type: 'ping', id });
  expect(await ws.waitFor((m) => m.type === 'pong' && m.replyTo === id, 3_000)).toBeDefined();
  expect(ws.closed).toBeUndefined();
}

describe('heartbeat (HEARTBEAT_INTERVAL_MS=1000)', () => {
  it('RFC 6455 5.5.2 / CONFIG HEARTBEAT_INTERVAL_MS: a peer that never answers pings is terminated within ~3 s; a normal peer stays', async () => {
    const silent = await open(alice.accessToken, { autoPong: false });
    const normal = await open(alice.accessToken);
    const started = Date.now();
    let pings = 0;
    silent.ws.on('ping', () => (pings += 1));
    const closed = await silent.waitClose(4_500);
    const elapsed = Date.now() - started;
    expect(closed.code).toBe(1006);
    expect(pings).toBeGreaterThanOrEqual(1);
    expect(elapsed).toBeGreaterThan(1_000);
    expect(elapsed).toBeLessThan(4_500);
    await delay(Math.max(0, 4_500 - elapsed));
    await stillOpen(normal, 'alive');
    normal.close();
  });

  it('CONFIG HEARTBEAT_INTERVAL_MS: the server pings every interval and connection_established announces it', async () => {
    const ws = await open(alice.accessToken);
    expect(ws.messages[0]).toMatchObject({ type: 'connection_established', heartbeatIntervalMs: 1000 });
    const pings: number[] = [];
    ws.ws.on('ping', () => pings.push(Date.now()));
    await delay(3_300);
    expect(pings.length).toBeGreaterThanOrEqual(2);
    expect(pings.length).toBeLessThanOrEqual(4);
    ws.close();
  });
});

describe('access token expiry', () => {
  it('CONTRACT close codes 4001: token_expiring arrives, then the socket closes 4001 when the access token expires', async () => {
    const user = await registerUser(app.url, 'expiring');
    const exp = (
      JSON.parse(Buffer.from(user.accessToken.split('.')[1] ?? '', 'base64url').toString()) as { exp: number }
    ).exp;
    clock.setTo(exp * 1000 - 3_000); // the server now believes the token has 3 s left
    const ws = await open(user.accessToken);
    const started = Date.now();
    const warning = (await ws.next((m) => m.type === 'token_expiring', 3_500)) as { expiresAt: string };
    expect(Date.parse(warning.expiresAt)).toBe(exp * 1000);
    const closed = await ws.waitClose(6_000);
    expect(closed.code).toBe(4001);
    expect(Date.now() - started).toBeGreaterThan(1_500);
    const order = ws.messages.map((m) => m.type);
    expect(order.indexOf('token_expiring')).toBeGreaterThan(order.indexOf('connection_established'));
  });

  it('CONTRACT close codes 4001: a socket opened with a ticket closes 4001 when the access token that issued the ticket expires', async () => {
    const user = await registerUser(app.url, 'ticket-expiring');
    const exp = (
      JSON.parse(Buffer.from(user.accessToken.split('.')[1] ?? '', 'base64url').toString()) as { exp: number }
    ).exp;
    const ticket = await request<{ url: string }>(app.url, 'POST', '/ws/ticket', {
      token: user.accessToken,
      body: { ttlSeconds: 3600 },
    });
    clock.setTo(exp * 1000 - 3_000);
    const ws = await TestSocket.open(ticket.body.url);
    await ws.next((m) => m.type === 'token_expiring', 3_500);
    expect((await ws.waitClose(6_000)).code).toBe(4001);
  });

  it('CONTRACT WS authenticate: renewing the token before expiry keeps the socket open past the old exp', async () => {
    const user = await registerUser(app.url, 'renewing');
    const exp = (
      JSON.parse(Buffer.from(user.accessToken.split('.')[1] ?? '', 'base64url').toString()) as { exp: number }
    ).exp;
    clock.setTo(exp * 1000 - 3_000);
    const ws = await open(user.accessToken);
    await ws.next((m) => m.type === 'token_expiring', 3_000);
    const fresh = await login(user); // issued on the skewed clock: a full TTL from the server's now
    ws.send({ type: 'authenticate', id: 'renew', token: fresh.accessToken });
    expect(await ws.waitFor((m) => m.type === 'authenticated', 3_000)).toMatchObject({ replyTo: 'renew' });
    await delay(4_000);
    await stillOpen(ws, 'past-old-exp');
    ws.close();
  });
});
