import { outcomeOf, type ApprovalReason, type RunEvent, type RunStatus } from '../../src/protocol/wire/index.js';

/** Where a tool call's approval stands: waiting, or how the wait ended (the user's answer, its expiry, the run's end). */
export type ApprovalDecision = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';

export interface ToolApproval {
  /** ISO 8601 UTC, server time. */
  readonly expiresAt: string;
  readonly decision: ApprovalDecision;
}

/** One tool call as the page shows it: a spinner until its result (or error) arrives. */
export interface ToolCard {
  readonly toolCallId: string;
  readonly tool: string;
  readonly args: unknown;
  readonly status: 'running' | 'done' | 'failed';
  readonly result?: unknown;
  readonly error?: { readonly code: string; readonly message: string };
  readonly durationMs?: number;
  /** Only for tools that need the user's approval (TOOLS_REQUIRING_APPROVAL). */
  readonly approval?: ToolApproval;
}

export type Step =
  { readonly kind: 'thinking'; readonly text: string } | { readonly kind: 'tool'; readonly card: ToolCard };

/** Everything the page knows about one run, built from its events alone. */
export interface RunView {
  readonly runId: string;
  readonly threadId: string;
  readonly status: RunStatus;
  /** Server time of the first event (agent_started), for the elapsed-time counter. */
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly steps: readonly Step[];
  readonly answer: string;
  readonly error?: { readonly code: string; readonly message: string };
  readonly lastSeq: number;
  /** Time spent waiting for the user's approval, in waits that ended (the run's clock stops meanwhile). */
  readonly pausedMs: number;
  /** Server time at which the current wait for approval began; null when nothing waits. */
  readonly pausedSince: string | null;
}

export function emptyRun(runId: string, threadId: string): RunView {
  return {
    runId,
    threadId,
    status: 'running',
    startedAt: null,
    endedAt: null,
    steps: [],
    answer: '',
    lastSeq: 0,
    pausedMs: 0,
    pausedSince: null,
  };
}

/**
 * Folds the next event of a run into its view. The SDK hands each run's events over once and in seq order (its
 * onEvent promise, across reconnects and replays), so the page folds them as they come and merges nothing.
 */
export function applyRunEvent(view: RunView, event: RunEvent): RunView {
  return withClock(view, foldEvent(view, event), event.ts);
}

/**
 * The run's clock stops while a tool call waits for approval, as the server's does: a wait starts at the first
 * `tool_approval_requested` and ends when no call waits any more (resolved, or the run ended).
 */
function withClock(before: RunView, after: RunView, ts: string): RunView {
  const waiting = after.status === 'running' && awaitsApproval(after);
  if (waiting && before.pausedSince === null) return { ...after, pausedSince: ts };
  if (!waiting && before.pausedSince !== null)
    return { ...after, pausedSince: null, pausedMs: before.pausedMs + elapsedMs(before.pausedSince, ts) };
  return after;
}

function foldEvent(view: RunView, event: RunEvent): RunView {
  // A terminal event sets the status its stored run will have (outcomeOf: the server's own mapping).
  const ended = outcomeOf(event);
  const next: RunView = {
    ...view,
    lastSeq: event.seq,
    startedAt: view.startedAt ?? event.ts,
    ...(ended === undefined ? {} : { status: ended.status, endedAt: event.ts }),
  };
  switch (event.type) {
    case 'agent_started':
      return next;
    case 'agent_thinking':
      return { ...next, steps: [...view.steps, { kind: 'thinking', text: event.text }] };
    case 'tool_executing':
      return {
        ...next,
        steps: [
          ...view.steps,
          {
            kind: 'tool',
            card: { toolCallId: event.toolCallId, tool: event.tool, args: event.args, status: 'running' },
          },
        ],
      };
    case 'tool_completed':
      return {
        ...next,
        steps: withTool(view.steps, event.toolCallId, (card) => ({
          ...card,
          status: event.error ? 'failed' : 'done',
          result: event.result,
          error: event.error,
          durationMs: event.durationMs,
        })),
      };
    case 'tool_approval_requested':
      return {
        ...next,
        steps: withTool(view.steps, event.toolCallId, (card) => ({
          ...card,
          approval: { expiresAt: event.expiresAt, decision: 'pending' },
        })),
      };
    case 'tool_approval_resolved':
      return {
        ...next,
        steps: withTool(view.steps, event.toolCallId, (card) =>
          card.approval === undefined
            ? card
            : { ...card, approval: { ...card.approval, decision: decisionOf(event.approved, event.reason) } },
        ),
      };
    case 'agent_message_delta':
      return { ...next, answer: view.answer + event.text };
    // The streamed text stays as shown (a doubled delta would be visible, not papered over); a run that streamed
    // nothing (an agent that does not stream) shows the final text.
    case 'agent_completed':
      return { ...next, answer: view.answer === '' ? event.text : view.answer };
    case 'agent_error':
      return { ...next, error: { code: event.code, message: event.message } };
    case 'run_cancelled':
      return next;
    // State, steps and custom events of an AG-UI agent: nothing to show in this page.
    case 'agui_event':
      return next;
  }
}

function withTool(steps: readonly Step[], toolCallId: string, change: (card: ToolCard) => ToolCard): readonly Step[] {
  return steps.map((step) =>
    step.kind === 'tool' && step.card.toolCallId === toolCallId ? { kind: 'tool', card: change(step.card) } : step,
  );
}

function decisionOf(approved: boolean, reason: ApprovalReason): ApprovalDecision {
  if (reason === 'user') return approved ? 'approved' : 'denied';
  return reason;
}

/** A tool call of this run still waiting for the user's decision. */
export function awaitsApproval(run: RunView): boolean {
  return run.steps.some((step) => step.kind === 'tool' && step.card.approval?.decision === 'pending');
}

/** A run's view from its full event history (a finished run opened later). */
export function runFromEvents(runId: string, threadId: string, events: readonly RunEvent[]): RunView {
  return events.reduce(applyRunEvent, emptyRun(runId, threadId));
}

/**
 * How long the run has been working at `now` (or took, once ended): from its start to its end or `now`, less the
 * waits for approval. A wait still going stops the count where it began.
 */
export function workedMs(run: RunView, now: number): number {
  const end = run.endedAt ?? run.pausedSince ?? now;
  return Math.max(0, elapsedMs(run.startedAt, end) - run.pausedMs);
}

/** Milliseconds between two ISO timestamps, never negative (the clocks of page and server may differ). */
export function elapsedMs(from: string | null, to: string | number): number {
  if (from === null) return 0;
  const end = typeof to === 'number' ? to : Date.parse(to);
  return Math.max(0, end - Date.parse(from));
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}
