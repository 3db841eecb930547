import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, type TestApp, type TestSocket } from '../../src/testing/index.js';
import { connect, eventOf, send, threadRuns, type Ack, type User } from './helpers/runs.js';

/**
 * Hardening: graceful shutdown (SHUTDOWN_GRACE_MS=3000). Sockets close 1001 at once; a run that can finish within
 * the grace period completes normally; one that cannot ends agent_error `interrupted`, and stop() returns soon
 * after the grace period. The stored outcome is checked by a second app on the same DATA_DIR.
 */

const GRACE_MS = 3_000;
const dataDir = mkdtempSync(join(tmpdir(), 'agentgate-shutdown-'));
let first: TestApp | undefined;
let second: TestApp | undefined;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  first = await createTestApp({ DATA_DIR: dataDir, SHUTDOWN_GRACE_MS: String(GRACE_MS) });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await first?.close();
  await second?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function storedEvents(app: TestApp, user: User, runId: string): Promise<RunEvent[]> {
  const res = await request<{ events: RunEvent[] }>(app.url, 'GET', `/runs/${runId}/events?after=0`, {
    token: user.accessToken,
  });
  expect(res.status).toBe(200);
  return res.body.events;
}

describe('hardening: graceful shutdown', () => {
  it('closes sockets 1001, lets a 1 s run complete, interrupts a 30 s run after the grace period, and returns in time', async () => {
    const app = first as TestApp;
    const user = await registerUser(app.url, 'shutdown');
    const ws = await connect(app, user);
    sockets.push(ws);
    const watcher = await connect(app, user);
    sockets.push(watcher);

    const long: Ack = await send(ws, { id: 'long', text: 'wait 30 seconds' });
    await eventOf(ws, long.runId, 'tool_executing', 5_000);
    const short: Ack = await send(ws, { id: 'short', text: 'wait 1 seconds' });
    await eventOf(ws, short.runId, 'tool_executing', 5_000);

    const started = Date.now();
    const stopping = app.stop();
    // Every socket is told at once that the server is going away (1001), without waiting for the runs.
    expect(await ws.waitClose(2_500)).toEqual({ code: 1001, reason: 'server shutting down' });
    expect((await watcher.waitClose(2_500)).code).toBe(1001);
    expect(Date.now() - started).toBeLessThan(2_500);
    // New connections are not accepted while the runs drain.
    await delay(100);
    await expect(connect(app, user)).rejects.toBeDefined();

    let stoppedAt = 0;
    await Promise.race([
      stopping.then(() => (stoppedAt = Date.now())),
      delay(8_000).then(() => {
        throw new Error('stop() did not return within 8 s');
      }),
    ]);
    const elapsed = stoppedAt - started;
    // The 30 s run kept stop() waiting for the grace period, and no longer than that (plus a margin).
    expect(elapsed).toBeGreaterThanOrEqual(GRACE_MS - 300);
    expect(elapsed).toBeLessThan(GRACE_MS + 2_500);

    // A second app on the same data directory sees what the first one stored before it stopped.
    second = await createTestApp({ DATA_DIR: dataDir });
    const shortEvents = await storedEvents(second, user, short.runId);
    expect(verifyRunEvents(shortEvents)).toEqual([]);
    expect(shortEvents.at(-1)?.type).toBe('agent_completed');
    expect(shortEvents.some((e) => e.type === 'tool_completed' && e.error === undefined)).toBe(true);

    const longEvents = await storedEvents(second, user, long.runId);
    expect(verifyRunEvents(longEvents)).toEqual([]);
    const terminal = longEvents.at(-1) as Extract<RunEvent, { type: 'agent_error' }>;
    expect(terminal).toMatchObject({ type: 'agent_error', code: 'interrupted' });
    // Written by the stopping server itself (not by the next start's recovery), within the grace period.
    expect(Date.parse(terminal.ts)).toBeLessThanOrEqual(stoppedAt);
    expect(Date.parse(terminal.ts) - started).toBeGreaterThanOrEqual(GRACE_MS - 300);
    // The interrupted wait tool was closed before the terminal event.
    const toolDone = longEvents.find((e) => e.type === 'tool_completed');
    expect(toolDone).toBeDefined();
    expect(toolDone?.seq).toBeLessThan(terminal.seq);

    expect(await threadRuns(second, user, short.threadId)).toEqual([
      expect.objectContaining({ id: short.runId, status: 'completed' }),
    ]);
    expect(await threadRuns(second, user, long.threadId)).toEqual([
      expect.objectContaining({ id: long.runId, status: 'interrupted', errorCode: 'interrupted' }),
    ]);
  }, 30_000);

  it('with nothing running, stop() returns at once even with a grace period', async () => {
    const idle = await createTestApp({ SHUTDOWN_GRACE_MS: String(GRACE_MS) });
    try {
      const user = await registerUser(idle.url, 'shutdown-idle');
      const ws = await connect(idle, user);
      sockets.push(ws);
      const done = await send(ws, { id: 'quick', text: 'hello' });
      await eventOf(ws, done.runId, 'agent_completed', 5_000);
      const started = Date.now();
      await idle.close();
      expect(Date.now() - started).toBeLessThan(1_500);
      expect((await ws.waitClose(1_000)).code).toBe(1001);
    } finally {
      await idle.close();
    }
  });
});
