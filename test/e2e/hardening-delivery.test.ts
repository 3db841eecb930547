import { describe, expect, it } from 'vitest';
import { isTerminalEvent, verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { registerUser, request } from '../../src/testing/index.js';
import {
  eventually,
  isRunEvent,
  range,
  send,
  seqs,
  settle,
  terminalOf,
  useScriptedApp,
  type Established,
  type Resumed,
} from './helpers/runs.js';

/**
 * Hardening: the delivery rule. A connection open when a run starts follows it live from seq 1; a connection that
 * opens while a run is in progress sees it in connection_established.activeRuns and gets none of its events until
 * it sends `resume`, after which it gets seq afterSeq+1..terminal exactly once, in order.
 */

const DELTAS = 300;

const server = useScriptedApp({ MAX_RUNS_PER_USER: '10' });
const { open } = server;

describe("hardening: delivery of a run to the user's connections", () => {
  it('a connection opened mid-run gets nothing of it until resume {afterSeq: 0}, then seq 1..terminal exactly once, in order', async () => {
    const user = await registerUser(server.app.url, 'deliver-late');
    const early = await open(user);
    const ack = await send(early, { id: 'long', text: `script:deltas ${DELTAS} 8` });
    await early.next((m) => isRunEvent(m) && m.runId === ack.runId && m.seq >= 20, 10_000);

    const late = await open(user);
    const hello = late.messages[0] as Established;
    expect(hello.type).toBe('connection_established');
    const listed = hello.activeRuns.find((r) => r.runId === ack.runId);
    expect(listed).toMatchObject({ runId: ack.runId, threadId: ack.threadId });
    expect(listed?.lastSeq).toBeGreaterThanOrEqual(20);

    // The run goes on; the late connection is not sent any of it while it has not asked.
    await early.next((m) => isRunEvent(m) && m.runId === ack.runId && m.seq >= (listed?.lastSeq ?? 0) + 60, 10_000);
    expect(late.eventsOf(ack.runId)).toEqual([]);

    late.send({ type: 'resume', id: 'r0', runId: ack.runId, afterSeq: 0 });
    const resumedMessage = await late.next((m) => m.type === 'resumed' && m.replyTo === 'r0', 5_000);
    const resumed = resumedMessage as Resumed;
    expect(resumed).toMatchObject({ runId: ack.runId, finished: false });
    const full = await early.runEvents(ack.runId, 20_000);
    await terminalOf(late, ack.runId, 10_000);
    await settle(200);

    const got = late.eventsOf(ack.runId);
    expect(verifyRunEvents(got)).toEqual([]);
    expect(seqs(got)).toEqual(range(1, 1 + DELTAS + 1));
    expect(got).toEqual(full);
    // The replay's part came before the resumed ack; everything after it continued live, without a seam.
    const ackIndex = late.messages.indexOf(resumedMessage);
    const replayed = late.messages
      .slice(0, ackIndex)
      .filter((m): m is RunEvent => isRunEvent(m) && m.runId === ack.runId);
    expect(replayed.length).toBe(resumed.lastSeq);
    expect(seqs(replayed)).toEqual(range(1, resumed.lastSeq));

    // The stored log agrees with what both connections saw.
    const stored = await request<{ events: RunEvent[] }>(server.app.url, 'GET', `/runs/${ack.runId}/events?after=0`, {
      token: user.accessToken,
    });
    expect(stored.body.events).toEqual(full);
  });

  it('a connection open before the run starts gets it live from seq 1 without resume', async () => {
    const user = await registerUser(server.app.url, 'deliver-live');
    const sender = await open(user);
    const other = await open(user);
    const ack = await send(sender, { id: 'live', text: `script:deltas ${DELTAS} 2` });
    const a = await sender.runEvents(ack.runId, 20_000);
    const b = await other.runEvents(ack.runId, 10_000);
    expect(verifyRunEvents(b)).toEqual([]);
    expect(seqs(b)).toEqual(range(1, DELTAS + 2));
    expect(b).toEqual(a);
    expect(other.messages.some((m) => m.type === 'resumed')).toBe(false);
    // message_added announced the user message to the other tab before agent_started.
    const types = other.messages.map((m) => m.type);
    expect(types.indexOf('message_added')).toBeGreaterThanOrEqual(0);
    expect(types.indexOf('message_added')).toBeLessThan(types.indexOf('agent_started'));
  });

  it('a mid-run connection that never resumes gets nothing of that run, but the next run live', async () => {
    const user = await registerUser(server.app.url, 'deliver-never');
    const first = await open(user);
    const ack = await send(first, { id: 'one', text: `script:deltas ${DELTAS} 8` });
    await first.next((m) => isRunEvent(m) && m.runId === ack.runId && m.seq >= 10, 10_000);
    const quiet = await open(user);
    expect((quiet.messages[0] as Established).activeRuns.map((r) => r.runId)).toContain(ack.runId);
    await first.runEvents(ack.runId, 20_000);
    await settle(300);
    expect(quiet.eventsOf(ack.runId)).toEqual([]);

    // A run that starts while it is open reaches it live, from seq 1.
    const next = await send(first, { id: 'two', text: 'script:deltas 30 2' });
    const live = await quiet.runEvents(next.runId, 10_000);
    expect(verifyRunEvents(live)).toEqual([]);
    expect(seqs(live)).toEqual(range(1, 32));
    expect(quiet.eventsOf(ack.runId)).toEqual([]);
  });

  it('a second resume from 0 replays everything again as one contiguous stream, never interleaving live duplicates', async () => {
    const user = await registerUser(server.app.url, 'deliver-twice');
    const starter = await open(user);
    const ack = await send(starter, { id: 'twice', text: `script:deltas ${DELTAS} 8` });
    await starter.next((m) => isRunEvent(m) && m.runId === ack.runId && m.seq >= 15, 10_000);
    const late = await open(user);
    late.send({ type: 'resume', id: 'a', runId: ack.runId, afterSeq: 0 });
    await late.next((m) => m.type === 'resumed' && m.replyTo === 'a', 5_000);
    late.send({ type: 'resume', id: 'b', runId: ack.runId, afterSeq: 0 });
    await late.next((m) => m.type === 'resumed' && m.replyTo === 'b', 5_000);
    await terminalOf(starter, ack.runId, 20_000);
    // The second replay starts where seq 1 shows up again; live events may continue the first stream until then.
    const secondStart = (events: RunEvent[]): number => events.findIndex((e, i) => i > 0 && e.seq === 1);
    await eventually(
      () => {
        const events = late.eventsOf(ack.runId);
        const last = events.at(-1);
        return secondStart(events) > 0 && last !== undefined && isTerminalEvent(last);
      },
      10_000,
      'the second replay to reach the terminal event',
    );
    await settle(200);
    // The first stream: 1..k exactly once. The second, from the second resume on: 1..terminal exactly once.
    const events = late.eventsOf(ack.runId);
    const before = events.slice(0, secondStart(events));
    const after = events.slice(secondStart(events));
    expect(seqs(before)).toEqual(range(1, before.length));
    expect(seqs(after)).toEqual(range(1, DELTAS + 2));
  });
});
