import type { RunEvent, TerminalEventType } from '../protocol/index.js';

export type TestEventType = 'agent_started' | 'agent_thinking' | 'agent_message_delta' | TerminalEventType;

/**
 * One run event as the log stamps it, for unit specs of what consumes run events: seq 1 is agent_started and the
 * others agent_thinking unless `type` says otherwise; the timestamp follows the seq.
 */
export function testRunEvent(seq: number, opts: { runId?: string; type?: TestEventType } = {}): RunEvent {
  const runId = opts.runId ?? 'r1';
  const stamp = {
    runId,
    threadId: `thread-of-${runId}`,
    seq,
    ts: new Date(Date.UTC(2025, 0, 1, 0, 0, seq)).toISOString(),
  };
  const type = opts.type ?? (seq === 1 ? 'agent_started' : 'agent_thinking');
  switch (type) {
    case 'agent_started':
      return { ...stamp, type, agent: 'echo' };
    case 'agent_thinking':
      return { ...stamp, type, text: `thinking ${seq}` };
    case 'agent_message_delta':
      return { ...stamp, type, text: `delta ${seq}` };
    case 'agent_completed':
      return { ...stamp, type, text: 'done', durationMs: 12 };
    case 'agent_error':
      return { ...stamp, type, code: 'agent_failed', message: 'the agent failed' };
    case 'run_cancelled':
      return { ...stamp, type };
  }
}

/** A whole run: seqs 1..length, agent_started first, `terminal` last (agent_completed by default; none if undefined). */
export function testRunLog(length: number, opts: { runId?: string; terminal?: TerminalEventType } = {}): RunEvent[] {
  const terminal = 'terminal' in opts ? opts.terminal : 'agent_completed';
  return Array.from({ length }, (_, i) =>
    testRunEvent(i + 1, { runId: opts.runId, type: i + 1 === length && terminal !== undefined ? terminal : undefined }),
  );
}
