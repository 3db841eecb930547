import { describe, expect, it } from 'vitest';
import { createRunContext } from '../../src/agents/index.js';
import type { RunEvent, ServerMessage } from '../../src/protocol/index.js';
import { ActiveRun, SeqTakenError, type EventLog } from '../../src/runs/index.js';
import { MemoryUserEventBus } from '../../src/storage/index.js';

const context = createRunContext({ userId: 'u', threadId: 't', runId: 'r', connectionId: null });

/** An event log that refuses the appends whose 1-based call numbers are listed (as a full disk, or as a seq taken). */
function flakyLog(failing: Set<number>, error: (event: RunEvent) => Error = () => new Error('disk full')): EventLog & { stored: RunEvent[] } {
  let calls = 0;
  const stored: RunEvent[] = [];
  return {
    stored,
    append: async (event) => {
      calls += 1;
      if (failing.has(calls)) throw error(event);
      stored.push(event);
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
  const run = new ActiveRun(context, log, bus, Date.now, (_err, event) => errors.push(event.seq));
  return { run, log, delivered, errors };
}

describe('ActiveRun', () => {
  it('stores each event before delivering it, numbering 1, 2, 3... in emit order', async () => {
    const { run, log, delivered } = setup([]);
    run.emit({ type: 'agent_started' });
    run.emit({ type: 'agent_thinking', text: 'hm' });
    run.emit({ type: 'agent_message_delta', text: 'a' });
    await run.end({ type: 'agent_completed', text: 'a', durationMs: 1 });
    expect(delivered).toEqual(log.stored);
    expect(log.stored.map((e) => [e.seq, e.type])).toEqual([[1, 'agent_started'], [2, 'agent_thinking'], [3, 'agent_message_delta'], [4, 'agent_completed']]);
    run.emit({ type: 'agent_thinking', text: 'after the end' });
    expect(log.stored).toHaveLength(4);
  });

  it('after a storage failure delivers no unstored event but the terminal one, and leaves no gap in seq', async () => {
    const { run, log, delivered, errors } = setup([3]);
    run.emit({ type: 'agent_started' });
    run.emit({ type: 'agent_thinking', text: 'one' });
    run.emit({ type: 'agent_thinking', text: 'two (fails)' });
    run.emit({ type: 'agent_thinking', text: 'three (dropped)' });
    await run.end({ type: 'agent_error', code: 'interrupted', message: 'storage failed' });
    expect(errors).toEqual([3]);
    expect(log.stored.map((e) => e.seq)).toEqual([1, 2]);
    expect(delivered.map((m) => ('seq' in m ? [m.seq, m.type] : m.type))).toEqual([[1, 'agent_started'], [2, 'agent_thinking'], [3, 'agent_error']]);
  });

  it('once another instance has written its seq (it ended the run as orphaned), delivers nothing more, not even the terminal event', async () => {
    const { run, log, delivered, errors } = setup([3], (event) => new SeqTakenError(event.runId, event.seq));
    run.emit({ type: 'agent_started' });
    run.emit({ type: 'agent_thinking', text: 'one' });
    run.emit({ type: 'agent_thinking', text: 'two (seq taken)' });
    await run.end({ type: 'agent_error', code: 'interrupted', message: 'taken over' });
    expect(errors).toEqual([3]);
    expect(log.stored.map((e) => e.seq)).toEqual([1, 2]);
    expect(delivered.map((m) => ('seq' in m ? m.seq : m.type))).toEqual([1, 2]);
  });

  it('closes tool calls left open when the run ends', async () => {
    const { run, log } = setup([]);
    run.emit({ type: 'agent_started' });
    run.openToolCalls.set('c1', { tool: 'wait', startedAt: Date.now() });
    run.emit({ type: 'tool_executing', toolCallId: 'c1', tool: 'wait', args: {} });
    await run.end({ type: 'run_cancelled' });
    expect(log.stored.map((e) => e.type)).toEqual(['agent_started', 'tool_executing', 'tool_completed', 'run_cancelled']);
    expect(log.stored[2]).toMatchObject({ toolCallId: 'c1', error: { code: 'aborted' } });
  });
});
