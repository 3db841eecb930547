import { z } from 'zod';

/** Token usage reported by a model, when it reports one. */
export const UsageSchema = z.object({ inputTokens: z.number().int().min(0), outputTokens: z.number().int().min(0) });
export type Usage = z.infer<typeof UsageSchema>;

const base = {
  runId: z.string(),
  threadId: z.string(),
  seq: z.number().int().min(1),
  ts: z.string(),
};

/** Every event a run emits, in the order rules of docs/PROTOCOL.md (checked by verifyRunEvents). */
export const RunEventSchema = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('agent_started'), agent: z.string().optional() }),
  z.object({ ...base, type: z.literal('agent_thinking'), text: z.string() }),
  z.object({ ...base, type: z.literal('tool_executing'), toolCallId: z.string(), tool: z.string(), args: z.unknown() }),
  z.object({
    ...base,
    type: z.literal('tool_completed'),
    toolCallId: z.string(),
    tool: z.string(),
    result: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    durationMs: z.number().min(0),
  }),
  z.object({ ...base, type: z.literal('agent_message_delta'), text: z.string() }),
  z.object({
    ...base,
    type: z.literal('agent_completed'),
    text: z.string(),
    usage: UsageSchema.optional(),
    durationMs: z.number().min(0),
  }),
  z.object({ ...base, type: z.literal('agent_error'), code: z.string(), message: z.string() }),
  z.object({ ...base, type: z.literal('run_cancelled') }),
]);
export type RunEvent = z.infer<typeof RunEventSchema>;
export type RunEventType = RunEvent['type'];

/** A run event before the run log stamps it with runId, threadId, seq and ts. */
export type RunEventBody = RunEvent extends infer E
  ? E extends RunEvent
    ? Omit<E, 'runId' | 'threadId' | 'seq' | 'ts'>
    : never
  : never;

export const TERMINAL_EVENT_TYPES = ['agent_completed', 'agent_error', 'run_cancelled'] as const;
export type TerminalEventType = (typeof TERMINAL_EVENT_TYPES)[number];

export function isTerminalEvent(e: { type: string }): boolean {
  return (TERMINAL_EVENT_TYPES as readonly string[]).includes(e.type);
}

export const RUN_STATUSES = ['running', 'completed', 'error', 'cancelled', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** How a run ended, as its stored status and error code say. */
export interface RunOutcome {
  readonly status: Exclude<RunStatus, 'running'>;
  readonly errorCode: string | null;
}

/**
 * The one mapping from a terminal event to the run's status: the executor, orphan recovery, the SDK and the page
 * all read a run's end through it. `agent_error` with code `interrupted` (the server stopped) is `interrupted`;
 * undefined for an event that is not terminal.
 */
export function outcomeOf(event: RunEventBody): RunOutcome | undefined {
  switch (event.type) {
    case 'agent_completed':
      return { status: 'completed', errorCode: null };
    case 'run_cancelled':
      return { status: 'cancelled', errorCode: null };
    case 'agent_error':
      return { status: event.code === 'interrupted' ? 'interrupted' : 'error', errorCode: event.code };
    default:
      return undefined;
  }
}
