import { isTerminalEvent, type RunEvent } from './wire/index.js';

/**
 * Checks the ordering rules of one run's events: seq contiguous from 1, agent_started first, exactly one terminal
 * event and it is last, every tool_executing answered by one tool_completed with its toolCallId before the end.
 * Returns the list of violations (empty when the stream is well formed).
 */
export function verifyRunEvents(events: readonly RunEvent[], opts: { complete?: boolean } = {}): string[] {
  const problems: string[] = [];
  const open = new Set<string>();
  let terminalAt = -1;
  events.forEach((e, i) => {
    if (e.seq !== i + 1) problems.push(`event ${i} has seq ${e.seq}, expected ${i + 1}`);
    if (i === 0 && e.type !== 'agent_started') problems.push(`first event is ${e.type}, expected agent_started`);
    if (i > 0 && e.type === 'agent_started') problems.push(`agent_started repeated at seq ${e.seq}`);
    if (e.runId !== events[0]?.runId) problems.push(`seq ${e.seq} belongs to run ${e.runId}`);
    if (terminalAt >= 0) problems.push(`${e.type} at seq ${e.seq} after the terminal event`);
    if (e.type === 'tool_executing') {
      if (open.has(e.toolCallId)) problems.push(`toolCallId ${e.toolCallId} executed twice`);
      open.add(e.toolCallId);
    }
    if (e.type === 'tool_completed' && !open.delete(e.toolCallId))
      problems.push(`tool_completed ${e.toolCallId} without tool_executing`);
    if (isTerminalEvent(e)) {
      terminalAt = i;
      for (const id of open) problems.push(`tool call ${id} never completed`);
    }
  });
  if ((opts.complete ?? true) && terminalAt < 0) problems.push('no terminal event');
  return problems;
}
