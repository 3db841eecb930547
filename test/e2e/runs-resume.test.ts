import { describe, expect, it } from 'vitest';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { registerUser, request, type TestSocket } from '../../src/testing/index.js';
import {
  eventually,
  isRunEvent,
  range,
  send,
  seqs,
  settle,
  terminalOf,
  threadRuns,
  useScriptedApp,
  type Established,
  type Resumed,
} from './helpers/runs.js';

const server = useScriptedApp({ MAX_RUNS_PER_USER: '20' });
const { open } = server;

const runEventsAfter = (ws: TestSocket, runId: string, index: number): RunEvent[] =>
  ws.messages.slice(index).filter((m): m is RunEvent => isRunEvent(m) && m.runId === runId);

describe('runs: resume', () => {
  it('a second connection resuming mid-run (afterSeq N) gets every seq > N exactly once, in order, through the terminal event, while live events keep coming', async () => {
    const user = await registerUser(server.app.url, 'resume-live');
    const ws1 = await open(user);
    const ack = await send(ws1, { id: 'long', text: 'script:deltas 300 4' });
    await ws1.next((m) => isRunEvent(m) && m.runId === ack.runId && m.seq >= 40);

    const ws2 = await open(user);
    const N = 7;
    const from = ws2.messages.length;
    ws2.send({ type: 'resume', id: 'r', runId: ack.runId, afterSeq: N });
    const resumed = (await ws2.next((m) => m.type === 'resumed' && m.replyTo === 'r')) as Resumed;
    expect(resumed).toMatchObject({ runId: ack.runId, finished: false });
    const full = await ws1.runEvents(ack.runId, 15_000);
    await terminalOf(ws2, ack.runId, 5_000);
    expect(verifyRunEvents(full)).toEqual([]);
    expect(full).toHaveLength(1 + 300 + 1);

    // Live events may reach ws2 before its resume is handled; from the replay's first event on, the stream is exact.
    const afterResume = runEventsAfter(ws2, ack.runId, from);
    const start = afterResume.findIndex((e) => e.seq === N + 1);
    expect(start).toBeGreaterThanOrEqual(0);
    const replayed = afterResume.slice(start);
    expect(seqs(replayed)).toEqual(range(N + 1, full.length));
    expect(replayed).toEqual(full.slice(N));
    // Whatever came before the replay was live, in order and without gaps.
    const before = seqs(afterResume.slice(0, start));
    expect(before).toEqual(before.length === 0 ? [] : range(before[0] ?? 0, before.at(-1) ?? 0));
    // Nothing at or below N was replayed, and the resumed ack reports the last seq sent by the replay.
    expect(replayed.every((e) => e.seq > N)).toBe(true);
    expect(resumed.lastSeq).toBeGreaterThan(N);
    expect(resumed.lastSeq).toBeLessThanOrEqual(full.length);
    // The sender's own stream was complete and exact, too.
    expect(seqs(ws1.eventsOf(ack.runId))).toEqual(range(1, full.length));
  });

  it('resume after the run finished replays exactly the tail, says finished, and then nothing more arrives', async () => {
    const user = await registerUser(server.app.url, 'resume-done');
    const ws1 = await open(user);
    const ack = await send(ws1, { id: 'short', text: 'script:deltas 30 1' });
    const full = await ws1.runEvents(ack.runId);
    expect(verifyRunEvents(full)).toEqual([]);

    const ws2 = await open(user);
    ws2.send({ type: 'resume', id: 'tail', runId: ack.runId, afterSeq: 10 });
    const resumed = (await ws2.next((m) => m.type === 'resumed' && m.replyTo === 'tail')) as Resumed;
    expect(resumed).toMatchObject({ runId: ack.runId, finished: true, lastSeq: full.length });
    expect(ws2.eventsOf(ack.runId)).toEqual(full.slice(10));

    // A resume past the end replays nothing.
    const mark = ws2.messages.length;
    ws2.send({ type: 'resume', id: 'end', runId: ack.runId, afterSeq: full.length });
    expect(await ws2.next((m) => m.type === 'resumed' && m.replyTo === 'end')).toMatchObject({ finished: true });
    await settle(200);
    expect(runEventsAfter(ws2, ack.runId, mark)).toEqual([]);

    // From 0 on yet another connection: the whole run, identical to what was streamed and to the HTTP log.
    const ws3 = await open(user);
    ws3.send({ type: 'resume', id: 'all', runId: ack.runId, afterSeq: 0 });
    await ws3.next((m) => m.type === 'resumed' && m.replyTo === 'all');
    expect(ws3.eventsOf(ack.runId)).toEqual(full);
    const stored = await request<{ events: RunEvent[] }>(server.app.url, 'GET', `/runs/${ack.runId}/events?after=10`, {
      token: user.accessToken,
    });
    expect(stored.body.events).toEqual(full.slice(10));
  });

  it('connection_established.activeRuns lists a running run with its lastSeq on a new connection, only for its owner, and not once it ended', async () => {
    const [user, stranger] = await Promise.all([
      registerUser(server.app.url, 'active'),
      registerUser(server.app.url, 'active-other'),
    ]);
    const ws1 = await open(user);
    const ack = await send(ws1, { id: 'sleepy', text: 'script:sleep 30000' });
    await ws1.next((m) => isRunEvent(m) && m.runId === ack.runId && m.type === 'agent_thinking');
    const lastSeq = ws1.eventsOf(ack.runId).at(-1)?.seq ?? 0;
    expect(lastSeq).toBe(2);

    const ws2 = await open(user);
    const hello = ws2.messages[0] as Established;
    expect(hello.type).toBe('connection_established');
    expect(hello.activeRuns).toEqual([{ runId: ack.runId, threadId: ack.threadId, lastSeq, pendingApprovals: [] }]);

    const theirs = await open(stranger);
    expect((theirs.messages[0] as Established).activeRuns).toEqual([]);

    ws1.send({ type: 'cancel_run', runId: ack.runId });
    await terminalOf(ws1, ack.runId, 2_000);
    const ws3 = await open(user);
    expect((ws3.messages[0] as Established).activeRuns).toEqual([]);
  });

  it('closing the only socket mid-run does not cancel it: a later connection lists it, resumes from 0 and gets the complete run ending agent_completed', async () => {
    const user = await registerUser(server.app.url, 'disconnect');
    const ws1 = await open(user);
    const ack = await send(ws1, { id: 'slow', text: 'script:deltas 150 15' });
    await ws1.next((m) => isRunEvent(m) && m.runId === ack.runId && m.seq >= 5);
    ws1.close();
    await ws1.waitClose();
    await settle(200);

    const ws2 = await open(user);
    const active = (ws2.messages[0] as Established).activeRuns;
    expect(active).toEqual([
      { runId: ack.runId, threadId: ack.threadId, lastSeq: expect.any(Number), pendingApprovals: [] },
    ]);
    expect(active[0]?.lastSeq).toBeGreaterThanOrEqual(5);
    ws2.send({ type: 'resume', id: 'back', runId: ack.runId, afterSeq: 0 });
    const events = await ws2.runEvents(ack.runId, 15_000);
    expect(verifyRunEvents(events)).toEqual([]);
    expect(seqs(events)).toEqual(range(1, 152));
    const done = events.at(-1);
    expect(done).toMatchObject({ type: 'agent_completed' });
    expect(
      events
        .filter((e) => e.type === 'agent_message_delta')
        .map((e) => (e as { text: string }).text)
        .join(''),
    ).toBe((done as { text: string }).text);
    expect(await threadRuns(server.app, user, ack.threadId)).toEqual([
      expect.objectContaining({ id: ack.runId, status: 'completed' }),
    ]);
  });

  it('a run that finishes while its user has no connection at all is complete on resume from 0 later', async () => {
    const user = await registerUser(server.app.url, 'offline');
    const ws1 = await open(user);
    const ack = await send(ws1, { id: 'bg', text: 'script:deltas 60 10' });
    await ws1.next((m) => isRunEvent(m) && m.runId === ack.runId && m.type === 'agent_started');
    ws1.close();
    await ws1.waitClose();
    await eventually(
      async () => (await threadRuns(server.app, user, ack.threadId))[0]?.status !== 'running',
      10_000,
      'the run to finish',
    );
    expect(await threadRuns(server.app, user, ack.threadId)).toEqual([
      expect.objectContaining({ status: 'completed' }),
    ]);

    const ws2 = await open(user);
    expect((ws2.messages[0] as Established).activeRuns).toEqual([]);
    ws2.send({ type: 'resume', id: 'later', runId: ack.runId, afterSeq: 0 });
    expect(await ws2.next((m) => m.type === 'resumed' && m.replyTo === 'later')).toMatchObject({
      finished: true,
      lastSeq: 62,
    });
    const events = ws2.eventsOf(ack.runId);
    expect(verifyRunEvents(events)).toEqual([]);
    expect(events.at(-1)?.type).toBe('agent_completed');
  });
});
