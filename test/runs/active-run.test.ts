import { describe, expect, it } from 'vitest';
import { createRunContext } from '../../src/agents/index.js';
import type { RunEvent, ServerMessage } from '../../src/protocol/index.js';
import { ActiveRun, MAX_EVENTS_PER_WRITE, SeqTakenError, type EventLog } from '../../src/runs/index.js';
import { MemoryUserEventBus } from '../../src/storage/index.js';

const context = createRunContext({ userId: 'u', threadId: 't', runId: 'r', connectionId: null });

/** An event log that refuses any write holding one of the `failing` seqs (as a full disk, or as a seq taken). */
function flakyLog(
  failing: Set<number>,
  error: (event: RunEvent) => Error = () => new Error('disk full'),
): EventLog & { stored: RunEvent[]; writes: number[][] } {
  const stored: RunEvent[] = [];
  const writes: number[][] = [];
  return {
    stored,
    writes,
    append: async (events) => {
      writes.push(events.map((e) => e.seq));
      const bad = events.find((e) => failing.has(e.seq));
      if (bad !== undefined) throw error(bad);
      stored.push(...events);
    },
    list: async (_runId, after) => stored.filter((e) => e.seq > after),
  };
}

function setup(failing: number[], error?: (event: RunEvent) => Error) {
  const log = flakyLog(new Set(failing), error);
  const bus = new MemoryUserEventBus();
  const delivered: ServerMessage[] = [];
  bus.subscribe('u', { message: (m) => void delivered.push(m), resync: () => {} });
  const errors: number[] = [];
  // Storage that stays down: the terminal event is retried for 300 ms, then left to orphan recovery.
  const run = new ActiveRun(context, log, bus, Date.now, (_err, event) => errors.push(event.seq), 300);
  return { run, log, delivered, errors };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ActiveRun', () => {
  it('stores each event before delivering it, numbering 1, 2, 3... in emit order', async () => {
    const { run, log, delivered } = setup([]);
    run.emit({ type: 'agent_started' });
    run.emit({ type: 'agent_thinking', text: 'hm' });
    run.emit({ type: 'agent_message_delta', text: 'a' });
    await run.end({ type: 'agent_completed', text: 'a', durationMs: 1 });
    expect(delivered).toEqual(log.stored);
    expect(log.stored.map((e) => [e.seq, e.type])).toEqual([
      [1, 'agent_started'],
      [2, 'agent_thinking'],
      [3, 'agent_message_delta'],
      [4, 'agent_completed'],
    ]);
    run.emit({ type: 'agent_thinking', text: 'after the end' });
    expect(log.stored).toHaveLength(4);
  });

  it('stores a burst emitted in one tick in one write, and what is emitted during a write in the next one', async () => {
    const { run, log, delivered } = setup([]);
    for (let i = 0; i < 5; i++) run.emit({ type: 'agent_message_delta', text: `${i}` });
    await Promise.resolve();
    // The first write is in flight (its promise has not settled): these wait for the next write, together.
    run.emit({ type: 'agent_message_delta', text: 'x' });
    run.emit({ type: 'agent_message_delta', text: 'y' });
    await run.end({ type: 'agent_completed', text: '', durationMs: 1 });
    expect(log.writes).toEqual([
      [1, 2, 3, 4, 5],
      [6, 7, 8],
    ]);
    expect(delivered.map((m) => ('seq' in m ? m.seq : 0))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it(`splits a backlog into writes of at most ${MAX_EVENTS_PER_WRITE} events`, async () => {
    const { run, log } = setup([]);
    for (let i = 0; i < MAX_EVENTS_PER_WRITE * 2 + 10; i++) run.emit({ type: 'agent_message_delta', text: 'd' });
    await run.end({ type: 'agent_completed', text: '', durationMs: 1 });
    expect(log.writes.map((w) => w.length)).toEqual([MAX_EVENTS_PER_WRITE, MAX_EVENTS_PER_WRITE, 11]);
    expect(log.stored.map((e) => e.seq)).toEqual(
      Array.from({ length: MAX_EVENTS_PER_WRITE * 2 + 11 }, (_, i) => i + 1),
    );
  });

  it('after a storage failure delivers no unstored event but the terminal one, and leaves no gap in seq', async () => {
    const { run, log, delivered, errors } = setup([3]);
    run.emit({ type: 'agent_started' });
    run.emit({ type: 'agent_thinking', text: 'one' });
    await settle();
    run.emit({ type: 'agent_thinking', text: 'two (fails)' });
    run.emit({ type: 'agent_thinking', text: 'three (in the failed write)' });
    await settle();
    run.emit({ type: 'agent_thinking', text: 'four (dropped)' });
    await run.end({ type: 'agent_error', code: 'interrupted', message: 'storage failed' });
    expect(errors).toEqual([3]);
    expect(log.stored.map((e) => e.seq)).toEqual([1, 2]);
    expect(run.endStored).toBe(false);
    expect(delivered.map((m) => ('seq' in m ? [m.seq, m.type] : m.type))).toEqual([
      [1, 'agent_started'],
      [2, 'agent_thinking'],
      [3, 'agent_error'],
    ]);
  });

  it('delivers the terminal event at the next free seq when the write holding it fails', async () => {
    const { run, log, delivered } = setup([2]);
    run.emit({ type: 'agent_started' });
    await settle();
    run.emit({ type: 'agent_message_delta', text: 'lost' });
    await run.end({ type: 'agent_completed', text: 'lost', durationMs: 1 });
    expect(log.stored.map((e) => e.seq)).toEqual([1]);
    expect(delivered.map((m) => ('seq' in m ? [m.seq, m.type] : m.type))).toEqual([
      [1, 'agent_started'],
      [2, 'agent_completed'],
    ]);
  });

  it('stores the terminal event the sockets saw, at their seq, once storage is back', async () => {
    const stored: RunEvent[] = [];
    let down = true;
    const log: EventLog = {
      append: async (events) => {
        if (down) throw new Error('connection terminated');
        stored.push(...events);
      },
      list: async (_runId, after) => stored.filter((e) => e.seq > after),
    };
    const bus = new MemoryUserEventBus();
    const delivered: RunEvent[] = [];
    bus.subscribe('u', { message: (m) => void ('seq' in m && delivered.push(m)), resync: () => {} });
    const run = new ActiveRun(context, log, bus, Date.now, () => {}, 5_000);
    run.emit({ type: 'agent_started' });
    const ending = run.end({ type: 'agent_error', code: 'service_unavailable', message: 'storage down' });
    await new Promise((r) => setTimeout(r, 250));
    // Delivered at once, while storage is down, and not stored yet.
    expect(delivered.map((e) => [e.seq, e.type])).toEqual([[1, 'agent_error']]);
    expect(stored).toEqual([]);
    down = false;
    await ending;
    expect(run.endStored).toBe(true);
    expect(stored).toEqual(delivered);
  });

  it('once another instance has written its seq (it ended the run as orphaned), delivers nothing more, not even the terminal event', async () => {
    const { run, log, delivered, errors } = setup([3], (event) => new SeqTakenError(event.runId, event.seq));
    run.emit({ type: 'agent_started' });
    run.emit({ type: 'agent_thinking', text: 'one' });
    await settle();
    run.emit({ type: 'agent_thinking', text: 'two (seq taken)' });
    await run.end({ type: 'agent_error', code: 'interrupted', message: 'taken over' });
    expect(errors).toEqual([3]);
    expect(log.stored.map((e) => e.seq)).toEqual([1, 2]);
    expect(delivered.map((m) => ('seq' in m ? m.seq : m.type))).toEqual([1, 2]);
  });

  it('once another instance has ended the run, relays what that instance stored (its terminal event included), so no follower waits forever', async () => {
    const { run, log, delivered } = setup([3], (event) => {
      // The other instance ended the run at this seq first: its events are in the log.
      log.stored.push({ ...event, type: 'agent_error', code: 'interrupted', message: 'taken over' });
      return new SeqTakenError(event.runId, event.seq);
    });
    run.emit({ type: 'agent_started' });
    run.emit({ type: 'agent_thinking', text: 'one' });
    await settle();
    run.emit({ type: 'agent_thinking', text: 'two (seq taken)' });
    await run.end({ type: 'agent_completed', text: 'mine', durationMs: 1 });
    await settle();
    const seen = delivered.flatMap((m) => ('seq' in m ? [[m.seq, m.type]] : []));
    expect(seen).toEqual([
      [1, 'agent_started'],
      [2, 'agent_thinking'],
      [3, 'agent_error'],
    ]);
  });

  it('closes tool calls left open when the run ends', async () => {
    const { run, log } = setup([]);
    run.emit({ type: 'agent_started' });
    const toolCallId = run.beginToolCall('wait', {});
    await run.end({ type: 'run_cancelled' });
    expect(log.stored.map((e) => e.type)).toEqual([
      'agent_started',
      'tool_executing',
      'tool_completed',
      'run_cancelled',
    ]);
    expect(log.stored[2]).toMatchObject({ toolCallId, error: { code: 'aborted' } });
  });
});
