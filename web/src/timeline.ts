import type { RunEvent } from '../../src/protocol/index.js';

/** One tool call as the page shows it: a spinner until its result (or error) arrives. */
export interface ToolCard {
  readonly toolCallId: string;
  readonly tool: string;
  readonly args: unknown;
  readonly status: 'running' | 'done' | 'failed';
  readonly result?: unknown;
  readonly error?: { readonly code: string; readonly message: string };
  readonly durationMs?: number;
}

export type Step =
  { readonly kind: 'thinking'; readonly text: string } | { readonly kind: 'tool'; readonly card: ToolCard };

export type RunStatus = 'running' | 'completed' | 'error' | 'cancelled';

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
  /** Events that arrived before an earlier one (live events while the history is still loading), by seq. */
  readonly ahead: readonly RunEvent[];
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
    ahead: [],
  };
}

/**
 * Folds one event into a run's view, in seq order whatever the arrival order: an event at or below the last seq
 * is dropped (so a history replay and live events never double text), one beyond the next waits in `ahead`.
 */
export function applyRunEvent(view: RunView, event: RunEvent): RunView {
  if (event.seq <= view.lastSeq || view.ahead.some((e) => e.seq === event.seq)) return view;
  if (event.seq > view.lastSeq + 1) return { ...view, ahead: [...view.ahead, event].sort((a, b) => a.seq - b.seq) };
  let next = foldNext(view, event);
  for (let head = next.ahead[0]; head !== undefined && head.seq === next.lastSeq + 1; head = next.ahead[0]) {
    next = foldNext({ ...next, ahead: next.ahead.slice(1) }, head);
  }
  return next;
}

function foldNext(view: RunView, event: RunEvent): RunView {
  const next = { ...view, lastSeq: event.seq, startedAt: view.startedAt ?? event.ts };
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
        steps: view.steps.map((step) =>
          step.kind === 'tool' && step.card.toolCallId === event.toolCallId
            ? {
                kind: 'tool',
                card: {
                  ...step.card,
                  status: event.error ? 'failed' : 'done',
                  result: event.result,
                  error: event.error,
                  durationMs: event.durationMs,
                },
              }
            : step,
        ),
      };
    case 'agent_message_delta':
      return { ...next, answer: view.answer + event.text };
    // The streamed text stays as shown (a doubled delta would be visible, not papered over); a run that streamed
    // nothing (an agent that does not stream) shows the final text.
    case 'agent_completed':
      return { ...next, status: 'completed', answer: view.answer === '' ? event.text : view.answer, endedAt: event.ts };
    case 'agent_error':
      return { ...next, status: 'error', error: { code: event.code, message: event.message }, endedAt: event.ts };
    case 'run_cancelled':
      return { ...next, status: 'cancelled', endedAt: event.ts };
  }
}

/** A run's view from its full event history (a finished run opened later). */
export function runFromEvents(runId: string, threadId: string, events: readonly RunEvent[]): RunView {
  return events.reduce(applyRunEvent, emptyRun(runId, threadId));
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
