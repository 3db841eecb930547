import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTerminalEvent, verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, type TestApp, type TestSocket } from '../../src/testing/index.js';
import { connect, eventually, ScriptedAgent, send, type User } from './helpers/runs.js';

/**
 * Hardening: a reader that stops reading is cut off (1008 `slow consumer`) instead of being buffered without bound
 * (MAX_BUFFERED_BYTES=16384); its run goes on, stays replayable, and reaches the user's other connections whole.
 */

const PIECE = 2048;
/** Upper bound of the flood: far more than the kernel's socket buffers can absorb (about 3.7 MB were seen). */
const MAX_DELTAS = 20_000;
/** Deltas still emitted once the slow consumer was cut off. */
const TAIL = 100;
/** One message of this size: larger than MAX_BUFFERED_BYTES plus what the kernel's socket buffers take at once. */
const HUGE = 8 * 1024 * 1024;

/** Set by the test once the server has cut the slow consumer off: the flood then ends after TAIL more deltas. */
let cutOff = false;

let app: TestApp;
const sockets: TestSocket[] = [];
beforeAll(async () => {
  app = await createTestApp(
    { MAX_BUFFERED_BYTES: '16384' },
    {
      agent: new ScriptedAgent({
        /** Deltas of PIECE bytes until cutOff (+TAIL), pausing 1 ms every 4 so a normal reader keeps up. */
        flood: async (req, io) => {
          let text = '';
          let tail = TAIL;
          for (let i = 1; i <= MAX_DELTAS && tail > 0; i++) {
            req.signal.throwIfAborted();
            const piece = `${String(i).padStart(6, '0')}${'x'.repeat(PIECE - 6)}`;
            io.delta(piece);
            text += piece;
            if (cutOff) tail -= 1;
            if (i % 4 === 0) await delay(1, undefined, { signal: req.signal });
          }
          return { text };
        },
        /** `script:many <n>`: n deltas of PIECE bytes, paced like flood; a short answer so only the deltas are big. */
        many: async (req, io) => {
          const n = Number(req.text.split(/\s+/)[1] ?? '100');
          for (let i = 1; i <= n; i++) {
            req.signal.throwIfAborted();
            io.delta(`${String(i).padStart(6, '0')}${'z'.repeat(PIECE - 6)}`);
            if (i % 4 === 0) await delay(1, undefined, { signal: req.signal });
          }
          return { text: `${n} pieces` };
        },
        /** One delta of HUGE bytes, and the same text as the answer. */
        huge: async (_req, io) => {
          const text = 'y'.repeat(HUGE);
          io.delta(text);
          return { text };
        },
      }),
    },
  );
});
afterAll(async () => {
  for (const s of sockets) {
    (s.ws as unknown as { _socket?: Socket })._socket?.resume();
    s.ws.terminate();
  }
  await app?.close();
});

async function open(user: User): Promise<TestSocket> {
  const ws = await connect(app, user);
  sockets.push(ws);
  return ws;
}

/** Waits (bounded) until the run's terminal event arrives or the socket closes; a short error otherwise. */
async function terminalOrClose(ws: TestSocket, runId: string, timeoutMs: number): Promise<void> {
  await eventually(
    () => ws.eventsOf(runId).some((e) => isTerminalEvent(e)) || ws.closed !== undefined,
    timeoutMs,
    `the end of run ${runId}`,
  );
}

const describeEvents = (events: RunEvent[]): string =>
  `${events.length} events, last seq ${events.at(-1)?.seq ?? 0} (${events.at(-1)?.type ?? 'none'})`;

describe('hardening: slow consumer', () => {
  it('a client that stops reading is closed, not buffered; the run completes, is stored whole, and a normal reader gets all of it', async () => {
    cutOff = false;
    const user = await registerUser(app.url, 'slow');
    const reader = await open(user);
    const slow = await open(user);
    const slowId = (slow.messages[0] as { connectionId: string }).connectionId;
    const tcp = (slow.ws as unknown as { _socket: Socket })._socket;
    tcp.pause();

    const ack = await send(reader, { id: 'flood', text: 'script:flood' });
    // The server gives up on the paused socket: it is no longer an open connection of the user.
    await eventually(
      () => !app.gateway.registry.all().some((c) => c.id === slowId && c.isOpen),
      20_000,
      'the slow consumer to be cut off',
    );
    cutOff = true;

    await terminalOrClose(reader, ack.runId, 30_000);
    const events = reader.eventsOf(ack.runId);
    // The normal reader received the whole run, in order. (Whether it stays connected after the big terminal
    // event is the next test's subject.)
    expect(events.at(-1)?.type, describeEvents(events)).toBe('agent_completed');
    expect(verifyRunEvents(events)).toEqual([]);
    const total = events.length;
    expect(total).toBeGreaterThan(2 + TAIL);

    const metrics = await request<string>(app.url, 'GET', '/metrics');
    expect(metrics.body).toMatch(/agentgate_ws_server_closes_total\{reason="slowConsumer"\} [1-9]/);

    // The run itself is stored whole and ends agent_completed.
    const stored = await request<{ events: RunEvent[] }>(app.url, 'GET', `/runs/${ack.runId}/events?after=0`, {
      token: user.accessToken,
    });
    expect(stored.status).toBe(200);
    expect(verifyRunEvents(stored.body.events)).toEqual([]);
    expect(stored.body.events.map((e) => e.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(stored.body.events.at(-1)?.type).toBe('agent_completed');

    // When the slow client reads again it finds the connection ended: 1008 `slow consumer` if the close frame got
    // through before the server gave up waiting, otherwise an abnormal end (1006). Never the whole run.
    tcp.resume();
    const closed = await slow.waitClose(15_000);
    if (closed.code === 1008) expect(closed.reason).toBe('slow consumer');
    else expect(closed.code).toBe(1006);
    const got = slow.eventsOf(ack.runId);
    expect(got.some((e) => isTerminalEvent(e))).toBe(false);
    expect(got.length).toBeLessThan(total);

    // The cut-off client can reconnect and replay the run from where it stopped (the last few hundred events).
    const back = await open(user);
    const from = Math.max(got.at(-1)?.seq ?? 0, total - 200);
    back.send({ type: 'resume', id: 'again', runId: ack.runId, afterSeq: from });
    await terminalOrClose(back, ack.runId, 20_000);
    const replayed = back.eventsOf(ack.runId);
    expect(replayed.map((e) => e.seq)).toEqual(Array.from({ length: total - from }, (_, i) => from + i + 1));
  });

  it('a client that reads normally is not cut off when one message is larger than MAX_BUFFERED_BYTES', async () => {
    // The limit is about a reader that falls behind, not about the size of one message: a reader that keeps
    // reading drains a big message like any other.
    const user = await registerUser(app.url, 'fast-big');
    const reader = await open(user);
    const ack = await send(reader, { id: 'huge', text: 'script:huge' });
    await terminalOrClose(reader, ack.runId, 20_000);
    const events = reader.eventsOf(ack.runId);
    expect(reader.closed, describeEvents(events)).toBeUndefined();
    expect(verifyRunEvents(events)).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['agent_started', 'agent_message_delta', 'agent_completed']);
    await delay(300);
    expect(reader.closed).toBeUndefined();
    reader.send({ type: 'ping', id: 'after-huge' });
    expect(await reader.waitFor((m) => m.type === 'pong', 3_000)).toMatchObject({ replyTo: 'after-huge' });
  });

  it('a normal reader that resumes a long finished run from 0 receives all of it (the replay is not cut off as slow)', async () => {
    const user = await registerUser(app.url, 'replay-big');
    const starter = await open(user);
    const n = 5000;
    const ack = await send(starter, { id: 'many', text: `script:many ${n}` });
    await terminalOrClose(starter, ack.runId, 30_000);
    expect(starter.eventsOf(ack.runId)).toHaveLength(n + 2);

    const late = await open(user);
    late.send({ type: 'resume', id: 'all', runId: ack.runId, afterSeq: 0 });
    await terminalOrClose(late, ack.runId, 30_000);
    const got = late.eventsOf(ack.runId);
    expect(late.closed, describeEvents(got)).toBeUndefined();
    expect(verifyRunEvents(got)).toEqual([]);
    expect(got).toHaveLength(n + 2);
  });
});
