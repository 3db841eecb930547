import { describe, expect, it } from 'vitest';
import { testRunEvent, testRunLog } from '../../src/testing/run-events.js';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { RunDelivery } from '../../src/runs/run-delivery.js';

const ev = testRunEvent;
const runLog = testRunLog;

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets settled promises run their callbacks (microtasks only, no timers). */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}

interface Read extends Deferred<readonly RunEvent[]> {
  readonly runId: string;
  readonly afterSeq: number;
}

/** A RunDelivery whose EventLog reads stay pending until the test settles them. */
function setup() {
  const sent: RunEvent[] = [];
  const reads: Read[] = [];
  const refillErrors: Array<{ err: unknown; runId: string }> = [];
  const delivery = new RunDelivery(
    (event) => void sent.push(event),
    (runId, afterSeq) => {
      const read = { runId, afterSeq, ...deferred<readonly RunEvent[]>() };
      reads.push(read);
      return read.promise;
    },
    (err, runId) => void refillErrors.push({ err, runId }),
  );
  return {
    delivery,
    sent,
    reads,
    refillErrors,
    /** The seqs sent for one run, in the order they were sent. */
    seqs: (runId = 'r1') => sent.filter((e) => e.runId === runId).map((e) => e.seq),
    /** The (runId, afterSeq) of every EventLog read, in order. */
    readArgs: () => reads.map((r) => [r.runId, r.afterSeq]),
  };
}

const after = (log: readonly RunEvent[], seq: number) => log.filter((e) => e.seq > seq);
const at = (log: readonly RunEvent[], seq: number): RunEvent => {
  const event = log.find((e) => e.seq === seq);
  if (event === undefined) throw new Error(`no seq ${seq} in the log`);
  return event;
};

describe('RunDelivery: live events', () => {
  it('delivers a run followed from agent_started in seq order, as a well-formed stream', () => {
    const { delivery, sent, reads } = setup();
    const log = runLog(6);
    for (const event of log) delivery.live(event);
    expect(sent).toEqual(log);
    expect(verifyRunEvents(sent)).toEqual([]);
    expect(reads).toHaveLength(0);
  });

  it('ignores a live event of an unknown run unless it is seq 1, and reads nothing for it', () => {
    const { delivery, sent, seqs, reads } = setup();
    const log = runLog(4);
    delivery.live(at(log, 2));
    delivery.live(at(log, 3));
    expect(sent).toEqual([]);
    expect(reads).toHaveLength(0);
    delivery.live(at(log, 1));
    delivery.live(at(log, 2));
    expect(seqs()).toEqual([1, 2]);
    expect(reads).toHaveLength(0);
  });

  it('drops duplicates and stale seqs (seq <= last sent)', () => {
    const { delivery, seqs, reads } = setup();
    const log = runLog(5);
    for (const seq of [1, 2, 2, 1, 3, 2, 3, 4, 4, 5, 5]) delivery.live(at(log, seq));
    expect(seqs()).toEqual([1, 2, 3, 4, 5]);
    expect(reads).toHaveLength(0);
  });

  it('keeps runs apart: a gap held in one run does not hold back another', () => {
    const { delivery, seqs, readArgs } = setup();
    const a = runLog(4, { runId: 'a' });
    const b = runLog(4, { runId: 'b' });
    delivery.live(at(a, 1));
    delivery.live(at(b, 1));
    delivery.live(at(a, 3)); // a skips seq 2: refill pending
    delivery.live(at(b, 2));
    delivery.live(at(b, 3));
    delivery.live(at(b, 4));
    expect(readArgs()).toEqual([['a', 1]]);
    expect(seqs('a')).toEqual([1]);
    expect(seqs('b')).toEqual([1, 2, 3, 4]);
  });
});

describe('RunDelivery: replay (resume)', () => {
  it('holds live events during a replay, then sends stored then held, each seq once, and returns the last seq', () => {
    const { delivery, sent, seqs, reads } = setup();
    const log = runLog(6);
    delivery.beginReplay('r1', 0);
    for (const seq of [3, 4, 3, 5]) delivery.live(at(log, seq));
    expect(sent).toEqual([]);
    expect(delivery.finishReplay('r1', log.slice(0, 3))).toBe(5);
    expect(seqs()).toEqual([1, 2, 3, 4, 5]);
    delivery.live(at(log, 5));
    delivery.live(at(log, 6));
    expect(sent).toEqual(log);
    expect(verifyRunEvents(sent)).toEqual([]);
    expect(reads).toHaveLength(0);
  });

  it('replays everything after afterSeq, even seqs this connection already sent live', () => {
    const { delivery, seqs } = setup();
    const log = runLog(5);
    for (const seq of [1, 2, 3]) delivery.live(at(log, seq));
    delivery.beginReplay('r1', 1);
    expect(delivery.finishReplay('r1', after(log, 1).slice(0, 2))).toBe(3);
    expect(seqs()).toEqual([1, 2, 3, 2, 3]);
    // Live delivery carries on from the replay's end.
    delivery.live(at(log, 3));
    delivery.live(at(log, 4));
    expect(seqs()).toEqual([1, 2, 3, 2, 3, 4]);
  });

  it('starts following a run at afterSeq when the connection did not follow it live', () => {
    const { delivery, sent, seqs } = setup();
    const log = runLog(6);
    delivery.beginReplay('r1', 2);
    delivery.live(at(log, 4));
    delivery.live(at(log, 5));
    expect(sent).toEqual([]);
    expect(delivery.finishReplay('r1', [at(log, 3)])).toBe(5);
    expect(seqs()).toEqual([3, 4, 5]);
    delivery.live(at(log, 6));
    expect(sent).toEqual(after(log, 2));
  });

  it('skips a held event the stored ones already sent, whatever order the held ones came in', () => {
    const { delivery, sent } = setup();
    const log = runLog(6);
    delivery.beginReplay('r1', 2);
    delivery.live(at(log, 5));
    delivery.live(at(log, 4));
    expect(delivery.finishReplay('r1', [at(log, 3), at(log, 4)])).toBe(5);
    expect(sent).toEqual(log.slice(2, 5));
  });

  it('an empty replay returns afterSeq and leaves the run followed live from there', () => {
    const { delivery, sent, seqs, reads } = setup();
    const log = runLog(5);
    delivery.beginReplay('r1', 3);
    expect(delivery.finishReplay('r1', [])).toBe(3);
    expect(sent).toEqual([]);
    delivery.live(at(log, 4));
    expect(seqs()).toEqual([4]);
    expect(reads).toHaveLength(0);
  });

  it('finishReplay without beginReplay sends nothing and returns 0', () => {
    const { delivery, sent } = setup();
    expect(delivery.finishReplay('r1', runLog(3))).toBe(0);
    expect(sent).toEqual([]);
  });

  it('a replay that reaches the terminal event ends the bookkeeping of the run', () => {
    const { delivery, sent, reads } = setup();
    const log = runLog(4);
    delivery.beginReplay('r1', 0);
    delivery.live(at(log, 4));
    expect(delivery.finishReplay('r1', log)).toBe(4);
    expect(sent).toEqual(log);
    expect(verifyRunEvents(sent)).toEqual([]);
    delivery.live(at(log, 4));
    delivery.live(at(log, 3));
    delivery.resync();
    expect(sent).toEqual(log);
    expect(reads).toHaveLength(0);
  });
});

describe('RunDelivery: overlapping replays and gaps after a replay', () => {
  it('a replay whose stored events end before the held ones begin refills the gap from the log, never skipping a seq', async () => {
    const { delivery, seqs, readArgs, reads } = setup();
    const log = runLog(12);
    delivery.beginReplay('r1', 0);
    // Live events 11 and 12 are held; 9 and 10 came before the hold and after the read: neither has them.
    delivery.live(at(log, 11));
    delivery.live(at(log, 12));
    expect(delivery.finishReplay('r1', log.slice(0, 8))).toBe(8);
    expect(seqs()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(readArgs()).toEqual([['r1', 8]]);
    reads[0]!.resolve(after(log, 8));
    await flush();
    expect(seqs()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('a second resume while the first is pending keeps the live events the first one holds', async () => {
    const { delivery, sent } = setup();
    const log = runLog(12);
    delivery.beginReplay('r1', 0);
    delivery.live(at(log, 9));
    delivery.live(at(log, 10));
    delivery.beginReplay('r1', 0); // a second resume, before the first read answers
    delivery.live(at(log, 11));
    expect(delivery.finishReplay('r1', log.slice(0, 8))).toBe(11);
    // The second replay finds everything it read already sent by the first.
    expect(delivery.finishReplay('r1', log.slice(0, 8))).toBe(11);
    expect(sent.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(verifyRunEvents(sent, { complete: false })).toEqual([]);
  });
});

describe('RunDelivery: abortReplay', () => {
  it('releases held events through the live path: a run that started during the replay is followed', () => {
    const { delivery, sent, seqs } = setup();
    const log = runLog(4);
    delivery.beginReplay('r1', 0);
    delivery.live(at(log, 1));
    delivery.live(at(log, 2));
    expect(sent).toEqual([]);
    delivery.abortReplay('r1');
    expect(seqs()).toEqual([1, 2]);
    delivery.live(at(log, 3));
    expect(seqs()).toEqual([1, 2, 3]);
  });

  it('forgets the run: held events past seq 1 are dropped and the run is no longer followed until a new resume', () => {
    const { delivery, seqs, reads } = setup();
    const log = runLog(6);
    delivery.live(at(log, 1));
    delivery.live(at(log, 2));
    delivery.beginReplay('r1', 0);
    delivery.live(at(log, 3));
    delivery.abortReplay('r1');
    delivery.live(at(log, 4));
    delivery.resync();
    expect(seqs()).toEqual([1, 2]);
    expect(reads).toHaveLength(0);
    // A later resume picks the run up again.
    delivery.beginReplay('r1', 2);
    delivery.live(at(log, 5));
    expect(delivery.finishReplay('r1', after(log, 2).slice(0, 2))).toBe(5);
    expect(seqs()).toEqual([1, 2, 3, 4, 5]);
  });

  it('abortReplay of a run never replayed does nothing', () => {
    const { delivery, sent, reads } = setup();
    delivery.abortReplay('r1');
    delivery.live(ev(2));
    expect(sent).toEqual([]);
    expect(reads).toHaveLength(0);
  });
});

describe('RunDelivery: gap refill', () => {
  it('a live event past a gap reads the log from the last seq sent, then sends the gap and the held event', async () => {
    const { delivery, sent, seqs, reads, readArgs } = setup();
    const log = runLog(7);
    delivery.live(at(log, 1));
    delivery.live(at(log, 2));
    delivery.live(at(log, 5));
    expect(readArgs()).toEqual([['r1', 2]]);
    expect(seqs()).toEqual([1, 2]);
    reads[0]!.resolve(log.slice(2, 5));
    await flush();
    expect(seqs()).toEqual([1, 2, 3, 4, 5]);
    delivery.live(at(log, 6));
    delivery.live(at(log, 7));
    expect(sent).toEqual(log);
    expect(verifyRunEvents(sent)).toEqual([]);
    expect(reads).toHaveLength(1);
  });

  it('holds live events that arrive while the refill is pending and releases them in order, without duplicates', async () => {
    const { delivery, sent, seqs, reads } = setup();
    const log = runLog(8);
    delivery.live(at(log, 1));
    delivery.live(at(log, 3)); // seq 2 was dropped by the bus
    for (const seq of [4, 3, 5, 4, 6]) delivery.live(at(log, seq));
    // Nothing leaves while the read is pending, and the later events do not start a second read.
    expect(seqs()).toEqual([1]);
    expect(reads).toHaveLength(1);
    // The log was read before 4 was stored: the held events bring the rest.
    reads[0]!.resolve([at(log, 2), at(log, 3)]);
    await flush();
    expect(seqs()).toEqual([1, 2, 3, 4, 5, 6]);
    delivery.live(at(log, 6));
    delivery.live(at(log, 7));
    delivery.live(at(log, 8));
    expect(sent).toEqual(log);
    expect(verifyRunEvents(sent)).toEqual([]);
    expect(reads).toHaveLength(1);
  });

  it('sends each seq once when the read already holds the events that were held', async () => {
    const { delivery, seqs, reads } = setup();
    const log = runLog(8);
    delivery.live(at(log, 1));
    delivery.live(at(log, 3));
    delivery.live(at(log, 4));
    reads[0]!.resolve(log.slice(1, 6)); // 2..6
    await flush();
    expect(seqs()).toEqual([1, 2, 3, 4, 5, 6]);
    delivery.live(at(log, 5));
    delivery.live(at(log, 6));
    delivery.live(at(log, 7));
    expect(seqs()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('a refill that reaches the terminal event ends the bookkeeping of the run', async () => {
    const { delivery, sent, reads } = setup();
    const log = runLog(4, { terminal: 'agent_error' });
    delivery.live(at(log, 1));
    delivery.live(at(log, 4));
    reads[0]!.resolve(after(log, 1));
    await flush();
    expect(sent).toEqual(log);
    expect(verifyRunEvents(sent)).toEqual([]);
    delivery.resync();
    delivery.live(at(log, 4));
    expect(reads).toHaveLength(1);
    expect(sent).toEqual(log);
  });

  it('a failing read reports onRefillError, drops what was held, and the next live event retries from the same seq', async () => {
    const { delivery, sent, seqs, reads, readArgs, refillErrors } = setup();
    const log = runLog(6);
    delivery.live(at(log, 1));
    delivery.live(at(log, 2));
    delivery.live(at(log, 4));
    const failure = new Error('event log unavailable');
    reads[0]!.reject(failure);
    await flush();
    expect(refillErrors).toHaveLength(1);
    expect(refillErrors[0]!.err).toBe(failure);
    expect(refillErrors[0]!.runId).toBe('r1');
    expect(seqs()).toEqual([1, 2]);
    // Still followed from seq 2: the next live event past the gap reads again from there.
    delivery.live(at(log, 5));
    expect(readArgs()).toEqual([
      ['r1', 2],
      ['r1', 2],
    ]);
    reads[1]!.resolve(log.slice(2, 5));
    await flush();
    delivery.live(at(log, 6));
    expect(sent).toEqual(log);
    expect(verifyRunEvents(sent)).toEqual([]);
    expect(refillErrors).toHaveLength(1);
  });

  it('after a failing read, a contiguous live event is delivered without another read', async () => {
    const { delivery, seqs, reads, refillErrors } = setup();
    const log = runLog(4);
    delivery.live(at(log, 1));
    delivery.live(at(log, 3));
    reads[0]!.reject(new Error('event log unavailable'));
    await flush();
    expect(refillErrors).toHaveLength(1);
    delivery.live(at(log, 2));
    delivery.live(at(log, 3));
    expect(seqs()).toEqual([1, 2, 3]);
    expect(reads).toHaveLength(1);
  });
});

describe('RunDelivery: resync', () => {
  it('re-reads every followed run that is not held, each from its last seq sent', async () => {
    const { delivery, seqs, readArgs, reads } = setup();
    const a = runLog(5, { runId: 'a' });
    const b = runLog(5, { runId: 'b' });
    const replayed = runLog(5, { runId: 'replayed' });
    const finished = runLog(2, { runId: 'finished', terminal: 'run_cancelled' });
    delivery.live(at(a, 1));
    delivery.live(at(a, 2));
    delivery.live(at(b, 1));
    delivery.beginReplay('replayed', 0);
    delivery.live(at(replayed, 2));
    for (const event of finished) delivery.live(event);

    delivery.resync();
    expect(readArgs()).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    // While a re-read is pending the run's live events are held.
    delivery.live(at(a, 4));
    delivery.live(at(a, 3));
    expect(seqs('a')).toEqual([1, 2]);
    reads[0]!.resolve([at(a, 3)]);
    reads[1]!.resolve([]);
    await flush();
    expect(seqs('a')).toEqual([1, 2, 3, 4]);
    // Nothing was missing in b: it is followed live again.
    delivery.live(at(b, 2));
    expect(seqs('b')).toEqual([1, 2]);
    expect(reads).toHaveLength(2);
    // The replayed run kept its held event through the resync.
    expect(seqs('replayed')).toEqual([]);
    expect(delivery.finishReplay('replayed', [at(replayed, 1)])).toBe(2);
    expect(seqs('replayed')).toEqual([1, 2]);
  });

  it('does not read again a run whose refill is still pending', () => {
    const { delivery, readArgs } = setup();
    const log = runLog(5);
    delivery.live(at(log, 1));
    delivery.live(at(log, 3));
    delivery.resync();
    expect(readArgs()).toEqual([['r1', 1]]);
  });

  it('with nothing followed it reads nothing', () => {
    const { delivery, reads } = setup();
    delivery.live(ev(3));
    delivery.resync();
    expect(reads).toHaveLength(0);
  });
});

describe('RunDelivery: terminal event', () => {
  it.each(['agent_completed', 'agent_error', 'run_cancelled'] as const)(
    '%s ends the bookkeeping: later events of the run are ignored and resync skips it',
    (terminal) => {
      const { delivery, sent, reads } = setup();
      const log = runLog(3, { terminal });
      for (const event of log) delivery.live(event);
      expect(sent).toEqual(log);
      expect(verifyRunEvents(sent)).toEqual([]);
      delivery.live(at(log, 3)); // a duplicate terminal
      delivery.live(ev(5)); // past a gap: no refill either
      delivery.resync();
      expect(sent).toEqual(log);
      expect(reads).toHaveLength(0);
    },
  );

  it('a seq 1 of a finished run is taken as a new start: nothing of the finished run is remembered', () => {
    const { delivery, seqs } = setup();
    const log = runLog(2);
    delivery.live(at(log, 1));
    delivery.live(at(log, 2));
    delivery.live(at(log, 1));
    delivery.live(ev(2));
    expect(seqs()).toEqual([1, 2, 1, 2]);
  });

  it('a terminal event is not special before it is due: one past a gap waits for the refill', async () => {
    const { delivery, sent, reads } = setup();
    const log = runLog(3, { terminal: 'agent_completed' });
    delivery.live(at(log, 1));
    delivery.live(at(log, 3));
    expect(sent).toEqual([at(log, 1)]);
    reads[0]!.resolve([at(log, 2)]);
    await flush();
    expect(sent).toEqual(log);
  });
});
