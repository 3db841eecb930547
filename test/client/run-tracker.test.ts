import { describe, expect, it } from 'vitest';
import { testRunEvent, testRunLog } from '../../src/testing/run-events.js';
import { ClientError } from '../../src/client/errors.js';
import { RunHandleImpl } from '../../src/client/run-handle.js';
import { RunTracker, type ResumeOutcome } from '../../src/client/run-tracker.js';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';

const ev = testRunEvent;
const runLog = testRunLog;

const at = (log: readonly RunEvent[], seq: number): RunEvent => {
  const event = log.find((e) => e.seq === seq);
  if (event === undefined) throw new Error(`no seq ${seq} in the log`);
  return event;
};

interface Fetch {
  readonly runId: string;
  readonly after: number;
  resolve(events: RunEvent[]): void;
  reject(err: unknown): void;
}

/** A tracker over fake deps that record every call; fetchEvents stays pending until the test settles it. */
function setup(outcome: ResumeOutcome = 'sent') {
  const emitted: RunEvent[] = [];
  const resumes: Array<[string, number]> = [];
  const fetches: Fetch[] = [];
  const tracker = new RunTracker({
    emit: (event) => void emitted.push(event),
    resume: (runId, afterSeq) => {
      resumes.push([runId, afterSeq]);
      return outcome;
    },
    fetchEvents: (runId, after) =>
      new Promise<RunEvent[]>((resolve, reject) => void fetches.push({ runId, after, resolve, reject })),
  });
  return {
    tracker,
    emitted,
    resumes,
    fetches,
    seqs: (runId = 'r1') => emitted.filter((e) => e.runId === runId).map((e) => e.seq),
    fetchArgs: () => fetches.map((f) => [f.runId, f.after]),
  };
}

function newHandle(afterSeq = 0): RunHandleImpl {
  return new RunHandleImpl(afterSeq, async () => {});
}

/** Lets settled promises run their callbacks (microtasks only, no timers). */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}

/** Every event a finished handle yields (it must have ended, or iterating would wait forever). */
async function drain(handle: RunHandleImpl): Promise<RunEvent[]> {
  expect(handle.settled).toBe(true);
  const events: RunEvent[] = [];
  for await (const event of handle) events.push(event);
  return events;
}

async function failureOf(promise: Promise<unknown>): Promise<ClientError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ClientError)) throw new Error('expected the promise to reject with a ClientError');
  return err;
}

describe('RunTracker: ingest', () => {
  it('emits each event of an in-order stream once, without resuming', () => {
    const { tracker, emitted, resumes, fetches } = setup();
    const log = runLog(5);
    for (const event of log) tracker.ingest(event);
    expect(emitted).toEqual(log);
    expect(verifyRunEvents(emitted)).toEqual([]);
    expect(resumes).toEqual([]);
    expect(fetches).toHaveLength(0);
  });

  it('drops duplicates (a replay overlapping live traffic)', () => {
    const { tracker, seqs, resumes } = setup();
    const log = runLog(4);
    for (const seq of [1, 2, 2, 1, 3, 3, 4, 4]) tracker.ingest(at(log, seq));
    expect(seqs()).toEqual([1, 2, 3, 4]);
    expect(resumes).toEqual([]);
  });

  it('a gap sends a resume from the last seq held and drops events past it until the replay fills it', () => {
    const { tracker, emitted, seqs, resumes, fetches } = setup('sent');
    const log = runLog(6);
    for (const seq of [1, 2, 4, 5]) tracker.ingest(at(log, seq));
    expect(seqs()).toEqual([1, 2]);
    expect(resumes).toEqual([['r1', 2]]);
    // The replay brings 3 onwards; the live copies that follow are duplicates.
    for (const seq of [3, 4, 5, 5, 6]) tracker.ingest(at(log, seq));
    expect(emitted).toEqual(log);
    expect(verifyRunEvents(emitted)).toEqual([]);
    expect(resumes).toEqual([['r1', 2]]);
    expect(fetches).toHaveLength(0);
  });

  it('asks once while a sent resume is unanswered; resumed() or connectionLost() lets the next gap ask again', () => {
    const { tracker, resumes } = setup('sent');
    const log = runLog(10);
    tracker.ingest(at(log, 1));
    tracker.ingest(at(log, 3));
    tracker.ingest(at(log, 4));
    expect(resumes).toEqual([['r1', 1]]);
    tracker.resumed('r1', false);
    tracker.ingest(at(log, 5));
    expect(resumes).toEqual([
      ['r1', 1],
      ['r1', 1],
    ]);
    tracker.connectionLost();
    tracker.ingest(at(log, 6));
    expect(resumes).toEqual([
      ['r1', 1],
      ['r1', 1],
      ['r1', 1],
    ]);
  });

  it("'later': nothing is read over HTTP, each event past the gap asks again, and unfinished() lists the run", () => {
    const { tracker, seqs, resumes, fetches } = setup('later');
    const log = runLog(5);
    for (const seq of [1, 2, 4, 5]) tracker.ingest(at(log, seq));
    expect(seqs()).toEqual([1, 2]);
    expect(resumes).toEqual([
      ['r1', 2],
      ['r1', 2],
    ]);
    expect(fetches).toHaveLength(0);
    // What the coming connection resumes.
    expect(tracker.unfinished()).toEqual([{ runId: 'r1', afterSeq: 2 }]);
  });

  it("'never': the stored events are read over HTTP from the last seq held and taken in, completing the run", async () => {
    const { tracker, emitted, resumes, fetchArgs, fetches } = setup('never');
    const log = runLog(5);
    const handle = newHandle();
    tracker.accepted(handle, { runId: 'r1', threadId: 'thread-of-r1' }, false);
    tracker.ingest(at(log, 1));
    tracker.ingest(at(log, 3));
    expect(resumes).toEqual([['r1', 1]]);
    expect(fetchArgs()).toEqual([['r1', 1]]);
    fetches[0]!.resolve(log.slice(1));
    await flush();
    expect(emitted).toEqual(log);
    expect((await handle.done).type).toBe('agent_completed');
    expect(await drain(handle)).toEqual(log);
    expect(tracker.unfinished()).toEqual([]);
  });

  it("'never': a failed HTTP read fails the run's handles with network_error, or with the ClientError it gave", async () => {
    const { tracker, fetches } = setup('never');
    const plain = newHandle();
    const coded = newHandle();
    tracker.accepted(plain, { runId: 'a', threadId: 'ta' }, false);
    tracker.accepted(coded, { runId: 'b', threadId: 'tb' }, false);
    tracker.ingest(ev(1, { runId: 'a' }));
    tracker.ingest(ev(3, { runId: 'a' }));
    tracker.ingest(ev(1, { runId: 'b' }));
    tracker.ingest(ev(3, { runId: 'b' }));
    expect(fetches.map((f) => f.runId)).toEqual(['a', 'b']);
    const cause = new Error('fetch failed');
    fetches[0]!.reject(cause);
    fetches[1]!.reject(new ClientError('not_found', 'No such run.', { status: 404 }));
    const plainError = await failureOf(plain.done);
    expect(plainError.code).toBe('network_error');
    expect(plainError.cause).toBe(cause);
    const codedError = await failureOf(coded.done);
    expect(codedError.code).toBe('not_found');
    expect(codedError.status).toBe(404);
  });

  it.each(['agent_completed', 'agent_error', 'run_cancelled'] as const)(
    'ignores every event after the terminal %s, and the run is no longer unfinished',
    (terminal) => {
      const { tracker, emitted, resumes } = setup();
      const log = runLog(3, { terminal });
      for (const event of log) tracker.ingest(event);
      tracker.ingest(ev(4));
      tracker.ingest(ev(6)); // past a gap: no resume either
      tracker.ingest(at(log, 3));
      expect(emitted).toEqual(log);
      expect(resumes).toEqual([]);
      expect(tracker.unfinished()).toEqual([]);
    },
  );

  it('a terminal event past a gap is dropped like any other until the replay fills the gap', () => {
    const { tracker, seqs, resumes } = setup();
    const log = runLog(3);
    tracker.ingest(at(log, 1));
    tracker.ingest(at(log, 3));
    expect(seqs()).toEqual([1]);
    expect(tracker.unfinished()).toEqual([{ runId: 'r1', afterSeq: 1 }]);
    expect(resumes).toEqual([['r1', 1]]);
    tracker.ingest(at(log, 2));
    tracker.ingest(at(log, 3));
    expect(seqs()).toEqual([1, 2, 3]);
    expect(tracker.unfinished()).toEqual([]);
  });

  it('keeps runs apart: a gap in one run does not hold back another', () => {
    const { tracker, seqs, resumes } = setup();
    tracker.ingest(ev(1, { runId: 'a' }));
    tracker.ingest(ev(1, { runId: 'b' }));
    tracker.ingest(ev(3, { runId: 'a' }));
    tracker.ingest(ev(2, { runId: 'b' }));
    expect(seqs('a')).toEqual([1]);
    expect(seqs('b')).toEqual([1, 2]);
    expect(resumes).toEqual([['a', 1]]);
  });
});

describe('RunTracker: resume answers', () => {
  it('resumed(finished) without a terminal event retires the run and fails its handles with interrupted', async () => {
    const { tracker, seqs } = setup();
    const handle = newHandle();
    tracker.accepted(handle, { runId: 'r1', threadId: 'thread-of-r1' }, false);
    tracker.ingest(ev(1));
    tracker.ingest(ev(2));
    tracker.resumed('r1', true);
    expect((await failureOf(handle.done)).code).toBe('interrupted');
    expect(tracker.unfinished()).toEqual([]);
    tracker.ingest(ev(3));
    expect(seqs()).toEqual([1, 2]);
  });

  it("resumeRefused fails the run's handles with the server's error and forgets the run", async () => {
    const { tracker, resumes } = setup();
    const handle = newHandle();
    tracker.follow('r1', 0, handle);
    expect(resumes).toEqual([['r1', 0]]);
    tracker.resumeRefused('r1', new ClientError('not_found', 'No such run.'));
    expect((await failureOf(handle.done)).code).toBe('not_found');
    expect((await failureOf(handle.accepted)).code).toBe('not_found');
    expect(tracker.unfinished()).toEqual([]);
    expect(tracker.threadOf('r1')).toBeUndefined();
  });
});

describe('RunTracker: follow and accepted', () => {
  it('replays held events to a late follower, then live ones, each once and in order', async () => {
    const { tracker, emitted, resumes, fetches } = setup();
    const log = runLog(5);
    for (const seq of [1, 2, 3]) tracker.ingest(at(log, seq));
    const late = newHandle();
    tracker.follow('r1', 0, late);
    expect(late.lastSeq).toBe(3);
    expect(await late.accepted).toEqual({ runId: 'r1', threadId: 'thread-of-r1' });
    for (const seq of [3, 4, 4, 5]) tracker.ingest(at(log, seq));
    expect((await late.done).seq).toBe(5);
    expect(await drain(late)).toEqual(log);
    // A follower of the finished run, from seq 2: served from memory.
    const after2 = newHandle(2);
    tracker.follow('r1', 2, after2);
    expect(await drain(after2)).toEqual(log.slice(2));
    expect(emitted).toEqual(log);
    expect(resumes).toEqual([]);
    expect(fetches).toHaveLength(0);
  });

  it('every iterator of a handle replays from its first event', async () => {
    const { tracker } = setup();
    const log = runLog(3);
    const handle = newHandle();
    tracker.follow('r1', 0, handle);
    for (const event of log) tracker.ingest(event);
    expect(await drain(handle)).toEqual(log);
    expect(await drain(handle)).toEqual(log);
  });

  it('following an unknown run resumes it from afterSeq and delivers what comes after', async () => {
    const { tracker, emitted, resumes, fetches } = setup();
    const log = runLog(5);
    const handle = newHandle(3);
    tracker.follow('r1', 3, handle);
    expect(resumes).toEqual([['r1', 3]]);
    expect(fetches).toHaveLength(0);
    expect(tracker.unfinished()).toEqual([{ runId: 'r1', afterSeq: 3 }]);
    tracker.ingest(at(log, 3)); // at or below afterSeq: not taken
    tracker.ingest(at(log, 4));
    tracker.ingest(at(log, 5));
    expect(emitted).toEqual(log.slice(3));
    expect(await drain(handle)).toEqual(log.slice(3));
  });

  it('a follower wanting seqs from before the run was first seen reads them over HTTP, then joins live without duplicates', async () => {
    const { tracker, resumes, fetches, fetchArgs } = setup();
    const log = runLog(8);
    const first = newHandle(5);
    tracker.follow('r1', 5, first);
    expect(resumes).toEqual([['r1', 5]]);
    tracker.ingest(at(log, 6));
    const fromStart = newHandle(0);
    tracker.follow('r1', 0, fromStart);
    expect(fetchArgs()).toEqual([['r1', 0]]);
    tracker.ingest(at(log, 7)); // live while the HTTP read is pending
    fetches[0]!.resolve(log.slice(0, 7));
    await flush();
    expect(fromStart.lastSeq).toBe(7);
    tracker.ingest(at(log, 8));
    const all = await drain(fromStart);
    expect(all).toEqual(log);
    expect(verifyRunEvents(all)).toEqual([]);
    expect(await drain(first)).toEqual(log.slice(5));
    expect(fetches).toHaveLength(1);
  });

  it('a failed HTTP read fails only the follower that needed it: network_error, or the ClientError it gave', async () => {
    const { tracker, fetches } = setup();
    const first = newHandle(5);
    tracker.follow('r1', 5, first);
    const fromStart = newHandle(0);
    tracker.follow('r1', 0, fromStart);
    const cause = new TypeError('fetch failed');
    fetches[0]!.reject(cause);
    const error = await failureOf(fromStart.done);
    expect(error.code).toBe('network_error');
    expect(error.cause).toBe(cause);
    expect(first.settled).toBe(false);

    const fromOne = newHandle(1);
    tracker.follow('r1', 1, fromOne);
    fetches[1]!.reject(new ClientError('service_unavailable', 'Try again.', { status: 503 }));
    const coded = await failureOf(fromOne.done);
    expect(coded.code).toBe('service_unavailable');
    expect(coded.status).toBe(503);
    expect(first.settled).toBe(false);
  });

  it("accepted() attaches the caller's handle with the ack's threadId and feeds it the run", async () => {
    const { tracker, resumes, fetches } = setup();
    const log = runLog(3);
    const handle = newHandle();
    tracker.accepted(handle, { runId: 'r1', threadId: 'thread-of-r1' }, false);
    expect(await handle.accepted).toEqual({ runId: 'r1', threadId: 'thread-of-r1' });
    expect(tracker.threadOf('r1')).toBe('thread-of-r1');
    for (const event of log) tracker.ingest(event);
    expect(await drain(handle)).toEqual(log);
    expect(resumes).toEqual([]);
    expect(fetches).toHaveLength(0);
  });

  it('accepted() for a message first sent on an earlier connection resumes the unknown run from 0', () => {
    const { tracker, resumes } = setup();
    tracker.accepted(newHandle(), { runId: 'r1', threadId: 'thread-of-r1' }, true);
    expect(resumes).toEqual([['r1', 0]]);
    // A run this tracker already knows needs no resume.
    tracker.ingest(ev(1, { runId: 'r2' }));
    tracker.accepted(newHandle(), { runId: 'r2', threadId: 'thread-of-r2' }, true);
    expect(resumes).toEqual([['r1', 0]]);
  });
});

describe('RunTracker: finished runs kept in memory', () => {
  const finish = (tracker: RunTracker, runId: string) => {
    for (const event of runLog(2, { runId })) tracker.ingest(event);
  };

  it('keeps the events of the last 50 finished runs for follow(); older ones are read over HTTP again', async () => {
    const { tracker, fetches, fetchArgs } = setup();
    for (let i = 0; i < 50; i += 1) finish(tracker, `run-${i}`);
    expect(tracker.threadOf('run-0')).toBe('thread-of-run-0');
    finish(tracker, 'run-50');
    expect(tracker.threadOf('run-0')).toBeUndefined();
    expect(tracker.threadOf('run-1')).toBe('thread-of-run-1');

    const kept = newHandle();
    tracker.follow('run-1', 0, kept);
    expect(await drain(kept)).toEqual(runLog(2, { runId: 'run-1' }));
    expect(fetches).toHaveLength(0);

    const evicted = newHandle();
    tracker.follow('run-0', 0, evicted);
    expect(fetchArgs()).toEqual([['run-0', 0]]);
    fetches[0]!.resolve(runLog(2, { runId: 'run-0' }));
    await flush();
    expect(await drain(evicted)).toEqual(runLog(2, { runId: 'run-0' }));
  });

  it('an evicted run stays known as ended: its events are ignored and it is never resumed', () => {
    const { tracker, emitted, resumes } = setup();
    for (let i = 0; i <= 50; i += 1) finish(tracker, `run-${i}`);
    const before = emitted.length;
    tracker.ingest(ev(1, { runId: 'run-0' }));
    tracker.ingest(ev(3, { runId: 'run-0' }));
    tracker.noteActive([{ runId: 'run-0', threadId: 'thread-of-run-0', lastSeq: 2, pendingApprovals: [] }]);
    expect(emitted).toHaveLength(before);
    expect(resumes).toEqual([]);
    expect(tracker.unfinished()).toEqual([]);
  });
});

describe('RunTracker: connection bookkeeping', () => {
  it('noteActive tracks unknown runs from their first event; unfinished() lists what a new connection resumes', () => {
    const { tracker, resumes } = setup();
    tracker.ingest(ev(1, { runId: 'following' }));
    tracker.ingest(ev(2, { runId: 'following' }));
    for (const event of runLog(2, { runId: 'ended' })) tracker.ingest(event);
    tracker.noteActive([
      { runId: 'following', threadId: 'thread-of-following', lastSeq: 7, pendingApprovals: [] },
      { runId: 'ended', threadId: 'thread-of-ended', lastSeq: 2, pendingApprovals: [] },
      { runId: 'new', threadId: 'thread-of-new', lastSeq: 4, pendingApprovals: [] },
    ]);
    expect(tracker.unfinished()).toEqual([
      { runId: 'following', afterSeq: 2 },
      { runId: 'new', afterSeq: 0 },
    ]);
    expect(tracker.threadOf('new')).toBe('thread-of-new');
    expect(resumes).toEqual([]);
  });

  it('failHandles fails every waiting handle but keeps the runs known for a later connection', async () => {
    const { tracker } = setup();
    const a = newHandle();
    const b = newHandle();
    tracker.accepted(a, { runId: 'a', threadId: 'ta' }, false);
    tracker.accepted(b, { runId: 'b', threadId: 'tb' }, false);
    tracker.ingest(ev(1, { runId: 'a' }));
    tracker.failHandles(new ClientError('client_closed', 'Closed.'));
    expect((await failureOf(a.done)).code).toBe('client_closed');
    expect((await failureOf(b.done)).code).toBe('client_closed');
    expect(tracker.unfinished()).toEqual([
      { runId: 'a', afterSeq: 1 },
      { runId: 'b', afterSeq: 0 },
    ]);
  });
});
