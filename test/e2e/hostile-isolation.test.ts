import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTerminalEvent, verifyRunEvents, type RunEvent, type ServerMessage } from '../../src/protocol/index.js';
import { createTestApp, registerUser, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';
import { frame } from './helpers/wire.js';

/**
 * Isolation under abuse (CONTRACT WebSocket: "A run's events go to every open connection of its user, and to no one
 * else, ever"): while user A floods its connection with hostile messages and opens raw connections that send broken
 * frames, user B runs 5 "calculate" runs at once and gets every event on both of its connections, well formed, with
 * the right answers; nothing of A reaches B and nothing of B reaches A.
 * fast-check prints the seed on failure; rerun with FC_SEED=<seed> (and FC_PATH=<path>).
 */

const FC_OPTIONS = {
  ...(process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) }),
  ...(process.env.FC_PATH === undefined ? {} : { path: process.env.FC_PATH }),
};

type User = Awaited<ReturnType<typeof registerUser>>;
let app: TestApp;
let alice: User;
let bob: User;
let a: TestSocket;
let b1: TestSocket;
let b2: TestSocket;
const isRunEvent = (m: ServerMessage): m is RunEvent => 'seq' in m;

beforeAll(async () => {
  // A may flood as fast as it likes (rate limits lifted): the point is what that does to B.
  app = await createTestApp({ WS_MESSAGES_PER_SECOND: '100000', WS_MESSAGE_BURST: '1000000', HANDSHAKES_PER_MINUTE: '1000000', MAX_CONNECTIONS_PER_USER: '10000' });
  [alice, bob] = await Promise.all([registerUser(app.url, 'abuser'), registerUser(app.url, 'bystander')]);
  const open = (u: User): Promise<TestSocket> => TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${u.accessToken}` } });
  [a, b1, b2] = await Promise.all([open(alice), open(bob), open(bob)]);
});
afterAll(async () => {
  for (const s of [a, b1, b2]) s?.close();
  await app?.close();
});

// ---------------------------------------------------------------------------------------------------------------
// A's abuse: hostile text messages on its socket, broken frames on raw sockets of its own.

const hostileText: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.constantFrom(
    '{',
    '{"type":"ping"',
    '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
    '{"type":"__proto__"}',
    '{"type":"ping","__proto__":{"polluted":1}}',
    '{"type":"user_message","text":42}',
    '{"type":"resume","runId":"x","afterSeq":-1}',
    '{"type":"cancel_run","runId":""}',
    '{"type":"authenticate","token":"a.b.c"}',
  ),
  // Messages that name B's runs and threads: A must get not_found and B must notice nothing.
  fc.record({ kind: fc.constantFrom('resume', 'cancel_run', 'user_message'), n: fc.nat() }).map(({ kind, n }) => JSON.stringify({ kind, n })),
  // A's own runs, some slow, so A is at its run limit while B works.
  fc.constantFrom('calculate 2+2', 'wait 1 second', 'what time is it in Asia/Tokyo', 'search the docs for tickets').map((text) => JSON.stringify({ type: 'user_message', text })),
  fc.integer({ min: 1_000, max: 60_000 }).map((n) => JSON.stringify({ type: 'user_message', text: 'calculate 1+1 '.repeat(Math.floor(n / 14)) })),
);

/** Fills in references to B's real runs and threads (known only once B has sent its messages). */
function materialize(text: string, bobRuns: string[], bobThreads: string[]): string {
  if (!text.startsWith('{"kind":')) return text;
  const { kind, n } = JSON.parse(text) as { kind: string; n: number };
  const runId = bobRuns[n % Math.max(1, bobRuns.length)] ?? 'none';
  const threadId = bobThreads[n % Math.max(1, bobThreads.length)] ?? 'none';
  if (kind === 'resume') return JSON.stringify({ type: 'resume', id: `steal-resume-${n}`, runId, afterSeq: 0 });
  if (kind === 'cancel_run') return JSON.stringify({ type: 'cancel_run', id: `steal-cancel-${n}`, runId });
  return JSON.stringify({ type: 'user_message', id: `steal-post-${n}`, threadId, text: 'calculate 1+1' });
}

const brokenFrames: fc.Arbitrary<Buffer> = fc
  .array(
    fc.record({
      opcode: fc.integer({ min: 0, max: 15 }),
      payload: fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 100 }).map((s) => new Uint8Array(Buffer.from(s)))),
      fin: fc.boolean(),
      rsv: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 7 })),
      masked: fc.oneof({ arbitrary: fc.constant(true), weight: 5 }, { arbitrary: fc.constant(false), weight: 1 }),
    }),
    { minLength: 1, maxLength: 5 },
  )
  .map((frames) => Buffer.concat(frames.map((f) => frame(f.opcode, Buffer.from(f.payload), f))));

/** Opens a raw upgraded socket as A, writes the bytes, waits a moment, drops it. */
async function rawAbuse(bytes: Buffer): Promise<void> {
  const socket: Socket = connect(app.port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const head = ['GET /ws HTTP/1.1', `Host: 127.0.0.1:${app.port}`, 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', `Authorization: Bearer ${alice.accessToken}`];
  let received = '';
  const upgraded = new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      if (received.includes('\r\n\r\n')) resolve();
    });
    socket.on('close', () => resolve());
  });
  socket.write(`${head.join('\r\n')}\r\n\r\n`);
  await upgraded;
  socket.write(bytes);
  await new Promise((r) => setTimeout(r, 30));
  socket.destroy();
}

// ---------------------------------------------------------------------------------------------------------------

const seenBobRuns = new Set<string>();
const seenBobThreads = new Set<string>();
const seenAliceRuns = new Set<string>();
let round = 0;

describe('isolation under abuse (CONTRACT WebSocket)', () => {
  it('property: while A floods and breaks frames, B\'s 5 concurrent calculate runs arrive complete, well formed and correct, on both of B\'s connections', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 })), { minLength: 5, maxLength: 5 }),
        fc.array(hostileText, { minLength: 10, maxLength: 40 }),
        fc.array(brokenFrames, { maxLength: 3 }),
        async (operands, flood, barrages) => {
          round += 1;
          const ids = operands.map((_, i) => `r${round}-b${i}`);
          const bobRunsSoFar = [...seenBobRuns];
          const bobThreadsSoFar = [...seenBobThreads];

          // B sends its 5 runs while A floods its socket and opens broken raw connections, all at once.
          const bobSends = operands.map(([x, y], i) => {
            b1.send({ type: 'user_message', id: ids[i], text: `calculate ${x}*${y}` });
            return b1.next((m) => (m.type === 'message_accepted' || m.type === 'error') && m.replyTo === ids[i], 10_000);
          });
          const aliceFlood = (async () => {
            for (const text of flood) {
              if (a.closed !== undefined) return;
              a.send(materialize(text, bobRunsSoFar, bobThreadsSoFar));
            }
          })();
          await Promise.all([aliceFlood, ...barrages.map(rawAbuse)]);

          const replies = await Promise.all(bobSends);
          const acks: Array<{ runId: string; threadId: string }> = [];
          for (const [i, reply] of replies.entries()) {
            if (reply.type !== 'message_accepted') throw new Error(`B's message ${ids[i]} was refused: ${JSON.stringify(reply)}`);
            acks.push({ runId: reply.runId, threadId: reply.threadId });
            seenBobRuns.add(reply.runId);
            seenBobThreads.add(reply.threadId);
          }

          for (const [i, { runId }] of acks.entries()) {
            const [x, y] = operands[i] ?? [0, 0];
            for (const [name, ws] of [['b1', b1], ['b2', b2]] as const) {
              await ws.next((m) => isRunEvent(m) && m.runId === runId && isTerminalEvent(m), 15_000);
              const events = ws.eventsOf(runId);
              const problems = verifyRunEvents(events);
              if (problems.length > 0) throw new Error(`${name}: run ${runId} (${x}*${y}) is not well formed: ${problems.join('; ')}`);
              const last = events.at(-1);
              if (last?.type !== 'agent_completed' || !last.text.includes(String(x * y))) {
                throw new Error(`${name}: run ${runId} (${x}*${y}) ended ${JSON.stringify(last)}; expected agent_completed containing ${x * y}`);
              }
              if (!ws.messages.some((m) => m.type === 'message_added' && m.runId === runId)) throw new Error(`${name}: no message_added for ${runId}`);
            }
            expect(b2.eventsOf(runId)).toEqual(b1.eventsOf(runId));
          }

          // A's socket answers a ping after the flood (unless A got itself closed), and learns about its own runs only.
          if (a.closed === undefined) {
            a.send({ type: 'ping', id: `a-sync-${round}` });
            await a.next((m) => m.type === 'pong' && m.replyTo === `a-sync-${round}`, 10_000);
          }
          for (const m of a.messages) if (m.type === 'message_accepted') seenAliceRuns.add(m.runId);

          const leakedToAlice = a.messages.filter((m) => ('runId' in m && seenBobRuns.has(m.runId)) || ('threadId' in m && seenBobThreads.has(m.threadId)));
          if (leakedToAlice.length > 0) throw new Error(`B's data reached A: ${JSON.stringify(leakedToAlice.slice(0, 3))}`);
          for (const [name, ws] of [['b1', b1], ['b2', b2]] as const) {
            const foreign = ws.messages.filter((m) => (isRunEvent(m) || m.type === 'message_added' || m.type === 'message_accepted') && !seenBobRuns.has(m.runId));
            if (foreign.length > 0) throw new Error(`${name} received messages of runs that are not B's: ${JSON.stringify(foreign.slice(0, 3))}`);
            const errors = ws.messages.filter((m) => m.type === 'error');
            if (errors.length > 0) throw new Error(`${name} received errors: ${JSON.stringify(errors.slice(0, 3))}`);
            if (ws.closed !== undefined) throw new Error(`${name} was closed: ${JSON.stringify(ws.closed)}`);
          }
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 30), endOnFailure: true, ...FC_OPTIONS },
    );
  }, 90_000);

  it('A\'s attempts to resume, cancel or post into B\'s runs and threads all got not_found', () => {
    const replyToOf = (m: ServerMessage): string => {
      const r = (m as { replyTo?: unknown }).replyTo;
      return typeof r === 'string' ? r : '';
    };
    const steals = a.messages.filter((m) => replyToOf(m).startsWith('steal-'));
    expect(steals.length).toBeGreaterThan(0);
    for (const m of steals) {
      // Posting may also meet A's own run limit first (checked before the thread, so it reveals nothing about B).
      const codes = replyToOf(m).startsWith('steal-post-') ? ['not_found', 'too_many_runs'] : ['not_found'];
      expect(m.type, JSON.stringify(m)).toBe('error');
      expect(codes, JSON.stringify(m)).toContain((m as { code?: string }).code);
    }
    expect(a.messages.filter((m) => (m as { code?: unknown }).code === 'internal_error')).toEqual([]);
    // Nothing A started ever reached B.
    for (const ws of [b1, b2]) expect(ws.messages.filter((m) => 'runId' in m && seenAliceRuns.has(m.runId))).toEqual([]);
  });
});
