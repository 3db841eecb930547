import type { Duplex } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { registerUser } from '../../src/testing/index.js';
import { eventually, settle, useTestApp, type User } from './helpers/runs.js';
import { upgrade } from './helpers/wire.js';

/**
 * Hardening: connections per user (MAX_CONNECTIONS_PER_USER) and the handshake rate per IP (HANDSHAKES_PER_MINUTE).
 * CONTRACT "WebSocket: GET /ws": 429 for too many connections of one user, or the handshake rate.
 */

const bearer = (user: User): Record<string, string> => ({ authorization: `Bearer ${user.accessToken}` });

describe('hardening: connections per user (MAX_CONNECTIONS_PER_USER=3)', () => {
  const server = useTestApp({ MAX_CONNECTIONS_PER_USER: '3' });
  const { open } = server;
  const raw: Duplex[] = [];
  afterAll(() => {
    for (const r of raw) r.destroy();
  });

  it('3 sockets open, the 4th upgrade gets 429 too_many_connections with Retry-After; closing one frees its slot', async () => {
    const user = await registerUser(server.app.url, 'conn-limit');
    const [a, b, c] = [await open(user), await open(user), await open(user)];
    for (const ws of [a, b, c]) expect(ws.closed).toBeUndefined();
    expect(server.app.gateway.registry.countFor(user.user.id)).toBe(3);

    const fourth = await upgrade(server.app, bearer(user));
    expect(fourth.status).toBe(429);
    expect(fourth.code).toBe('too_many_connections');
    expect(Number(fourth.headers['retry-after'])).toBeGreaterThan(0);
    expect(fourth.socket).toBeUndefined();
    // The refused attempt did not disturb the open ones.
    a.send({ type: 'ping', id: 'still' });
    expect(await a.waitFor((m) => m.type === 'pong', 3_000)).toMatchObject({ replyTo: 'still' });

    b.close();
    await b.waitClose(3_000);
    await eventually(
      () => server.app.gateway.registry.countFor(user.user.id) === 2,
      3_000,
      'the closed socket to leave the registry',
    );
    const again = await open(user);
    expect(again.messages[0]).toMatchObject({ type: 'connection_established', userId: user.user.id });
    expect(server.app.gateway.registry.countFor(user.user.id)).toBe(3);
    // And the user is full again.
    expect((await upgrade(server.app, bearer(user))).status).toBe(429);
  });

  it('10 concurrent upgrades with room for 3 open exactly 3 (no overshoot); the rest get 429', async () => {
    const user = await registerUser(server.app.url, 'conn-race');
    const results = await Promise.all(Array.from({ length: 10 }, () => upgrade(server.app, bearer(user))));
    for (const r of results) if (r.socket !== undefined) raw.push(r.socket);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 101)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    for (const r of results.filter((x) => x.status === 429)) expect(r.code).toBe('too_many_connections');
    await settle(200);
    expect(server.app.gateway.registry.countFor(user.user.id)).toBe(3);

    // Dropping the raw sockets frees the slots (no leaked reservation).
    for (const r of results) r.socket?.destroy();
    await eventually(
      () => server.app.gateway.registry.countFor(user.user.id) === 0,
      5_000,
      'dropped sockets to be released',
    );
    const after = await Promise.all(Array.from({ length: 3 }, () => upgrade(server.app, bearer(user))));
    for (const r of after) if (r.socket !== undefined) raw.push(r.socket);
    expect(after.map((r) => r.status)).toEqual([101, 101, 101]);
  });

  it('another user is unaffected by a user at its limit', async () => {
    const full = await registerUser(server.app.url, 'conn-full');
    const other = await registerUser(server.app.url, 'conn-other');
    for (let i = 0; i < 3; i++) await open(full);
    expect((await upgrade(server.app, bearer(full))).status).toBe(429);
    const mine = [await open(other), await open(other), await open(other)];
    for (const ws of mine)
      expect(ws.messages[0]).toMatchObject({ type: 'connection_established', userId: other.user.id });
    expect((await upgrade(server.app, bearer(other))).status).toBe(429);
    expect(server.app.gateway.registry.countFor(full.user.id)).toBe(3);
  });
});

describe('hardening: handshake rate per IP (HANDSHAKES_PER_MINUTE=5)', () => {
  const server = useTestApp({ HANDSHAKES_PER_MINUTE: '5' });
  const raw: Duplex[] = [];
  afterAll(() => {
    for (const r of raw) r.destroy();
  });

  it('the 6th upgrade attempt from 127.0.0.1 within a minute gets 429 rate_limited with Retry-After, whatever its credential', async () => {
    const user = await registerUser(server.app.url, 'handshake-rate');
    const first = [];
    for (let i = 0; i < 5; i++) first.push(await upgrade(server.app, bearer(user)));
    for (const r of first) if (r.socket !== undefined) raw.push(r.socket);
    expect(first.map((r) => r.status)).toEqual([101, 101, 101, 101, 101]);

    const sixth = await upgrade(server.app, bearer(user));
    expect(sixth.status).toBe(429);
    expect(sixth.code).toBe('rate_limited');
    const retryAfter = Number(sixth.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(sixth.socket).toBeUndefined();

    // Counted per attempt, not per success: a credential-less attempt is refused by the rate too, before auth.
    const seventh = await upgrade(server.app, {});
    expect(seventh.status).toBe(429);
    // HTTP is not affected by the WebSocket handshake budget.
    const res = await fetch(`${server.app.url}/ws/health`);
    expect(res.status).toBe(200);
  });
});
