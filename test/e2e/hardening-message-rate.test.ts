import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { registerUser, request, type TestSocket } from '../../src/testing/index.js';
import { eventually, settle, useTestApp } from './helpers/runs.js';

/**
 * Hardening: client message rate per connection (WS_MESSAGES_PER_SECOND=5, WS_MESSAGE_BURST=10).
 * CONTRACT close codes: 1008 `rate limit exceeded`.
 */

const server = useTestApp({ WS_MESSAGES_PER_SECOND: '5', WS_MESSAGE_BURST: '10' });
const { open } = server;

const pongs = (ws: TestSocket, prefix: string): string[] =>
  ws.messages
    .filter((m) => m.type === 'pong')
    .map((m) => (m as { replyTo: string | null }).replyTo ?? '')
    .filter((id) => id.startsWith(prefix));

describe('hardening: WebSocket message rate', () => {
  it('a client sending about 10 pings a second for a second gets every pong and stays open', async () => {
    const user = await registerUser(server.app.url, 'rate-paced');
    const ws = await open(user);
    for (let i = 0; i < 10; i++) {
      ws.send({ type: 'ping', id: `paced-${i}` });
      await delay(100);
    }
    await eventually(() => pongs(ws, 'paced-').length === 10, 3_000, 'ten pongs');
    expect(pongs(ws, 'paced-')).toEqual(Array.from({ length: 10 }, (_, i) => `paced-${i}`));
    await settle(200);
    expect(ws.closed).toBeUndefined();
    expect(ws.messages.some((m) => m.type === 'error')).toBe(false);
  });

  it("a flood of 200 pings closes that connection 1008 `rate limit exceeded`; the user's other connections are unaffected", async () => {
    const user = await registerUser(server.app.url, 'rate-flood');
    const calm = await open(user);
    const flooder = await open(user);
    for (let i = 0; i < 200; i++) flooder.send({ type: 'ping', id: `flood-${i}` });
    const closed = await flooder.waitClose(5_000);
    expect(closed).toEqual({ code: 1008, reason: 'rate limit exceeded' });
    // Rate (5) plus burst (10) were admitted at most: the flood was not served.
    const served = pongs(flooder, 'flood-').length;
    expect(served).toBeGreaterThan(0);
    expect(served).toBeLessThanOrEqual(20);

    // The same user's other connection still has its own budget.
    expect(calm.closed).toBeUndefined();
    for (let i = 0; i < 5; i++) calm.send({ type: 'ping', id: `calm-${i}` });
    await eventually(() => pongs(calm, 'calm-').length === 5, 3_000, 'pongs on the calm connection');
    expect(calm.closed).toBeUndefined();

    // A new connection of the same user starts with a fresh budget too.
    const fresh = await open(user);
    fresh.send({ type: 'ping', id: 'fresh' });
    expect(await fresh.waitFor((m) => m.type === 'pong', 3_000)).toMatchObject({ replyTo: 'fresh' });
    expect(fresh.closed).toBeUndefined();

    // The refusal is counted in the metrics by kind.
    const metrics = await request<string>(server.app.url, 'GET', '/metrics');
    expect(metrics.body).toMatch(/agentgate_rate_limited_total\{kind="messages"\} [1-9]/);
    expect(metrics.body).toMatch(/agentgate_ws_server_closes_total\{reason="rateLimited"\} [1-9]/);
  });

  it('a burst above the sustained rate but within the burst allowance is served in full', async () => {
    const user = await registerUser(server.app.url, 'rate-burst');
    const ws = await open(user);
    // 12 at once: 5 from the per-second rate plus 7 of the 10-message burst.
    for (let i = 0; i < 12; i++) ws.send({ type: 'ping', id: `burst-${i}` });
    await eventually(() => pongs(ws, 'burst-').length === 12, 3_000, 'twelve pongs');
    await settle(200);
    expect(ws.closed).toBeUndefined();
  });
});
