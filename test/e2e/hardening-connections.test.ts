import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, type TestApp, type TestSocket } from '../../src/testing/index.js';
import { connect, eventually, settle, type User } from './helpers/runs.js';

/**
 * Hardening: connections per user (MAX_CONNECTIONS_PER_USER) and the handshake rate per IP (HANDSHAKES_PER_MINUTE).
 * CONTRACT "WebSocket: GET /ws": 429 for too many connections of one user, or the handshake rate.
 */

type Upgrade = { status: number; headers: IncomingHttpHeaders; code: string | undefined; socket: Duplex | undefined };

/** One raw upgrade attempt: 101 with the socket, or the refusal's status, headers and error code. Bounded. */
function upgrade(app: TestApp, headers: Record<string, string>): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${app.url}/ws`, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), ...headers },
    });
    const timer = setTimeout(() => (req.destroy(), reject(new Error('upgrade attempt timed out'))), 5_000);
    req.on('upgrade', (res, socket) => {
      clearTimeout(timer);
      socket.on('error', () => {});
      resolve({ status: res.statusCode ?? 0, headers: res.headers, code: undefined, socket });
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        clearTimeout(timer);
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
        } catch {
          code = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, code, socket: undefined });
      });
    });
    req.on('error', (err) => (clearTimeout(timer), reject(err)));
    req.end();
  });
}

const bearer = (user: User): Record<string, string> => ({ authorization: `Bearer ${user.accessToken}` });

describe('hardening: connections per user (MAX_CONNECTIONS_PER_USER=3)', () => {
  let app: TestApp;
  const sockets: TestSocket[] = [];
  const raw: Duplex[] = [];
  beforeAll(async () => {
    app = await createTestApp({ MAX_CONNECTIONS_PER_USER: '3' });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const r of raw) r.destroy();
    await app?.close();
  });
  async function open(user: User): Promise<TestSocket> {
    const ws = await connect(app, user);
    sockets.push(ws);
    return ws;
  }

  it('3 sockets open, the 4th upgrade gets 429 too_many_connections with Retry-After; closing one frees its slot', async () => {
    const user = await registerUser(app.url, 'conn-limit');
    const [a, b, c] = [await open(user), await open(user), await open(user)];
    for (const ws of [a, b, c]) expect(ws.closed).toBeUndefined();
    expect(app.gateway.registry.countFor(user.user.id)).toBe(3);

    const fourth = await upgrade(app, bearer(user));
    expect(fourth.status).toBe(429);
    expect(fourth.code).toBe('too_many_connections');
    expect(Number(fourth.headers['retry-after'])).toBeGreaterThan(0);
    expect(fourth.socket).toBeUndefined();
    // The refused attempt did not disturb the open ones.
    a.send({ type: 'ping', id: 'still' });
    expect(await a.waitFor((m) => m.type === 'pong', 3_000)).toMatchObject({ replyTo: 'still' });

    b.close();
    await b.waitClose(3_000);
    await eventually(() => app.gateway.registry.countFor(user.user.id) === 2, 3_000, 'the closed socket to leave the registry');
    const again = await open(user);
    expect(again.messages[0]).toMatchObject({ type: 'connection_established', userId: user.user.id });
    expect(app.gateway.registry.countFor(user.user.id)).toBe(3);
    // And the user is full again.
    expect((await upgrade(app, bearer(user))).status).toBe(429);
  });

  it('10 concurrent upgrades with room for 3 open exactly 3 (no overshoot); the rest get 429', async () => {
    const user = await registerUser(app.url, 'conn-race');
    const results = await Promise.all(Array.from({ length: 10 }, () => upgrade(app, bearer(user))));
    for (const r of results) if (r.socket !== undefined) raw.push(r.socket);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 101)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    for (const r of results.filter((x) => x.status === 429)) expect(r.code).toBe('too_many_connections');
    await settle(200);
    expect(app.gateway.registry.countFor(user.user.id)).toBe(3);

    // Dropping the raw sockets frees the slots (no leaked reservation).
    for (const r of results) r.socket?.destroy();
    await eventually(() => app.gateway.registry.countFor(user.user.id) === 0, 5_000, 'dropped sockets to be released');
    const after = await Promise.all(Array.from({ length: 3 }, () => upgrade(app, bearer(user))));
    for (const r of after) if (r.socket !== undefined) raw.push(r.socket);
    expect(after.map((r) => r.status)).toEqual([101, 101, 101]);
  });

  it('another user is unaffected by a user at its limit', async () => {
    const full = await registerUser(app.url, 'conn-full');
    const other = await registerUser(app.url, 'conn-other');
    for (let i = 0; i < 3; i++) await open(full);
    expect((await upgrade(app, bearer(full))).status).toBe(429);
    const mine = [await open(other), await open(other), await open(other)];
    for (const ws of mine) expect(ws.messages[0]).toMatchObject({ type: 'connection_established', userId: other.user.id });
    expect((await upgrade(app, bearer(other))).status).toBe(429);
    expect(app.gateway.registry.countFor(full.user.id)).toBe(3);
  });
});

describe('hardening: handshake rate per IP (HANDSHAKES_PER_MINUTE=5)', () => {
  let app: TestApp;
  const raw: Duplex[] = [];
  beforeAll(async () => {
    app = await createTestApp({ HANDSHAKES_PER_MINUTE: '5' });
  });
  afterAll(async () => {
    for (const r of raw) r.destroy();
    await app?.close();
  });

  it('the 6th upgrade attempt from 127.0.0.1 within a minute gets 429 rate_limited with Retry-After, whatever its credential', async () => {
    const user = await registerUser(app.url, 'handshake-rate');
    const first = [];
    for (let i = 0; i < 5; i++) first.push(await upgrade(app, bearer(user)));
    for (const r of first) if (r.socket !== undefined) raw.push(r.socket);
    expect(first.map((r) => r.status)).toEqual([101, 101, 101, 101, 101]);

    const sixth = await upgrade(app, bearer(user));
    expect(sixth.status).toBe(429);
    expect(sixth.code).toBe('rate_limited');
    const retryAfter = Number(sixth.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(sixth.socket).toBeUndefined();

    // Counted per attempt, not per success: a credential-less attempt is refused by the rate too, before auth.
    const seventh = await upgrade(app, {});
    expect(seventh.status).toBe(429);
    // HTTP is not affected by the WebSocket handshake budget.
    const res = await fetch(`${app.url}/ws/health`);
    expect(res.status).toBe(200);
  });
});
