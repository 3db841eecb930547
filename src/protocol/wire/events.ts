/**
 * Run events: what a run emits, in the order rules of docs/PROTOCOL.md (checked by verifyRunEvents). Plain types
 * and constants, no schema library: the SDK and the page import this; the zod schemas in ../schemas are checked
 * against these types at compile time.
 */

/** Token usage reported by a model, when it reports one. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

/** What every stored run event carries. `seq` counts from 1 within the run, without gaps. */
export interface RunEventStamp {
  runId: string;
  threadId: string;
  seq: number;
  /** ISO 8601, server time. */
  ts: string;
}

export interface ToolError {
  code: string;
  message: string;
}

/**
 * An AG-UI event a team's agent sent (LLM_PROVIDER=agui) that has no run event of its own: state snapshots and
 * deltas, steps, custom and raw events. Its `type` is AG-UI's (`STATE_DELTA`, `CUSTOM`...); clients that do not
 * understand it show nothing.
 */
export interface AguiEventPayload {
  type: string;
  [field: string]: unknown;
}

/** Why a tool call's approval wait ended: the user decided, TOOL_APPROVAL_TIMEOUT_MS passed, or the run ended. */
export const APPROVAL_REASONS = ['user', 'expired', 'cancelled'] as const;
export type ApprovalReason = (typeof APPROVAL_REASONS)[number];

export type RunEvent =
  | (RunEventStamp & { type: 'agent_started'; agent?: string | undefined })
  | (RunEventStamp & { type: 'agent_thinking'; text: string })
  | (RunEventStamp & { type: 'tool_executing'; toolCallId: string; tool: string; args: unknown })
  | (RunEventStamp & {
      type: 'tool_completed';
      toolCallId: string;
      tool: string;
      result?: unknown;
      error?: ToolError | undefined;
      durationMs: number;
    })
  | (RunEventStamp & {
      type: 'tool_approval_requested';
      toolCallId: string;
      tool: string;
      args: unknown;
      /** ISO 8601 UTC: past it the call is refused (`approval_expired`). */
      expiresAt: string;
    })
  | (RunEventStamp & { type: 'tool_approval_resolved'; toolCallId: string; approved: boolean; reason: ApprovalReason })
  | (RunEventStamp & { type: 'agent_message_delta'; text: string })
  | (RunEventStamp & { type: 'agui_event'; event: AguiEventPayload })
  | (RunEventStamp & { type: 'agent_completed'; text: string; usage?: Usage | undefined; durationMs: number })
  | (RunEventStamp & { type: 'agent_error'; code: string; message: string })
  | (RunEventStamp & { type: 'run_cancelled' });

export type RunEventType = RunEvent['type'];

/** A run event before the run log stamps it with runId, threadId, seq and ts. */
export type RunEventBody = RunEvent extends infer E
  ? E extends RunEvent
    ? Omit<E, 'runId' | 'threadId' | 'seq' | 'ts'>
    : never
  : never;

export const RUN_EVENT_TYPES = [
  'agent_started',
  'agent_thinking',
  'tool_executing',
  'tool_completed',
  'tool_approval_requested',
  'tool_approval_resolved',
  'agent_message_delta',
  'agui_event',
  'agent_completed',
  'agent_error',
  'run_cancelled',
] as const satisfies readonly RunEventType[];

/** A run's last event, always exactly one. */
export const TERMINAL_EVENT_TYPES = [
  'agent_completed',
  'agent_error',
  'run_cancelled',
] as const satisfies readonly RunEventType[];
export type TerminalEventType = (typeof TERMINAL_EVENT_TYPES)[number];
export type TerminalEvent = Extract<RunEvent, { type: TerminalEventType }>;

// Compile-time: RUN_EVENT_TYPES names every event type (a new event must be listed).
const _everyEventListed: Exclude<RunEventType, (typeof RUN_EVENT_TYPES)[number]> extends never ? true : never = true;
void _everyEventListed;

const runEventTypes: ReadonlySet<string> = new Set(RUN_EVENT_TYPES);
const terminalEventTypes: ReadonlySet<string> = new Set(TERMINAL_EVENT_TYPES);

export function isRunEventType(type: string): type is RunEventType {
  return runEventTypes.has(type);
}

export function isTerminalEvent(event: { readonly type: string }): boolean {
  return terminalEventTypes.has(event.type);
}

/** Stored status of a run (GET /threads/:id, GET /runs/:id/events). */
export const RUN_STATUSES = ['running', 'completed', 'error', 'cancelled', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** How a run ended, as its stored status and error code say. */
export interface RunOutcome {
  readonly status: Exclude<RunStatus, 'running'>;
  readonly errorCode: string | null;
}

/**
 * The one mapping from a terminal event to the run's status: the executor, orphan recovery and the page all read a
 * run's end through it. `agent_error` with code `interrupted` (the server stopped) is `interrupted`;
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
