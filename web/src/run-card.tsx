import { useEffect, useMemo, useState } from 'preact/hooks';
import type { AgentgateClient } from '../../src/client/index.js';
import type { RunStatus } from '../../src/protocol/wire/index.js';
import { renderMarkdown } from './markdown.js';
import { describeError, errorCode } from './session.js';
import {
  awaitsApproval,
  formatDuration,
  runFromEvents,
  type ApprovalDecision,
  type RunView,
  type Step,
  type ToolApproval,
  type ToolCard,
  workedMs,
} from './timeline.js';

/** Sends the user's decision on a tool call; it settles when the server took (or refused) it. */
export type Decide = (runId: string, toolCallId: string, approved: boolean) => Promise<void>;

/** How a run's end reads; `running` never shows here (the footer shows progress instead). */
const STATUS_LABELS: Readonly<Record<RunStatus, string>> = {
  running: 'Working',
  completed: 'Answered',
  cancelled: 'Stopped',
  error: 'Failed',
  interrupted: 'Interrupted',
};

/** One run as it happens: thinking lines and tool cards in order, the answer streaming in, then how it ended. */
export function RunCard({
  run,
  onStop,
  onDecide,
}: {
  readonly run: RunView;
  readonly onStop: (runId: string) => void;
  readonly onDecide: Decide;
}) {
  const running = run.status === 'running';
  // Only a run still going can use a decision: an ended one's waits were resolved (or it was interrupted).
  const decide = running
    ? (toolCallId: string, approved: boolean) => onDecide(run.runId, toolCallId, approved)
    : undefined;
  return (
    <article class="run" data-run-id={run.runId} data-status={run.status} aria-label="Agent answer">
      <Steps steps={run.steps} decide={decide} />
      <Answer text={run.answer} streaming={running} />
      {run.error !== undefined && (
        <p class="run-error" role="alert" data-code={run.error.code}>
          The agent failed: {run.error.message} <span class="muted">({run.error.code})</span>
        </p>
      )}
      <footer class="run-footer">
        {running ? (
          <>
            <span class="spinner" aria-hidden="true" />
            <span class="run-state">
              {awaitsApproval(run)
                ? 'Waiting for your approval'
                : run.steps.length === 0 && run.answer === ''
                  ? 'Starting'
                  : run.answer === ''
                    ? 'Working'
                    : 'Answering'}
            </span>
            <Elapsed run={run} />
            <button type="button" class="stop" onClick={() => onStop(run.runId)}>
              Stop
            </button>
          </>
        ) : (
          <span class="run-state">
            {STATUS_LABELS[run.status]}
            {run.endedAt !== null && ` in ${formatDuration(workedMs(run, Date.now()))}`}
          </span>
        )}
      </footer>
    </article>
  );
}

function Answer({ text, streaming }: { readonly text: string; readonly streaming: boolean }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  // aria-busy holds screen readers back while the text is still growing, then they read the whole answer once.
  return (
    <div class="answer markdown" aria-live="polite" aria-busy={streaming} dangerouslySetInnerHTML={{ __html: html }} />
  );
}

export function Steps({
  steps,
  decide,
}: {
  readonly steps: readonly Step[];
  /** Absent where no decision can be sent (an ended run, a stored one). */
  readonly decide?: ((toolCallId: string, approved: boolean) => Promise<void>) | undefined;
}) {
  if (steps.length === 0) return null;
  return (
    <ol class="steps">
      {steps.map((step, i) =>
        step.kind === 'thinking' ? (
          <li key={`t${i}`} class="thinking">
            <span class="step-label">Thinking</span> {step.text}
          </li>
        ) : (
          <li key={step.card.toolCallId}>
            <ToolCardView
              card={step.card}
              decide={decide === undefined ? undefined : (approved) => decide(step.card.toolCallId, approved)}
            />
          </li>
        ),
      )}
    </ol>
  );
}

function ToolCardView({
  card,
  decide,
}: {
  readonly card: ToolCard;
  readonly decide: ((approved: boolean) => Promise<void>) | undefined;
}) {
  const { approval } = card;
  return (
    <section
      class="tool"
      data-tool={card.tool}
      data-status={card.status}
      data-approval={approval?.decision}
      aria-label={`Tool ${card.tool}`}
    >
      <header class="tool-head">
        <span class="tool-name">{card.tool}</span>
        {approval?.decision === 'pending' ? (
          <span class="tool-state">needs approval</span>
        ) : card.status === 'running' ? (
          <span class="tool-state">
            <span class="spinner" aria-hidden="true" /> running
          </span>
        ) : (
          <span class="tool-state">
            {card.status === 'done' ? '✓ done' : '✗ failed'}
            {card.durationMs !== undefined && <span class="tool-duration"> · {formatDuration(card.durationMs)}</span>}
          </span>
        )}
      </header>
      <dl class="tool-io">
        <dt>Arguments</dt>
        <dd>
          {/* Whole and indented when the user must approve them: a decision is only as good as what it saw. */}
          <pre class="tool-args">{approval === undefined ? compactJson(card.args) : prettyJson(card.args)}</pre>
        </dd>
        {card.status === 'done' && (
          <>
            <dt>Result</dt>
            <dd>
              <pre class="tool-result">{compactJson(card.result)}</pre>
            </dd>
          </>
        )}
      </dl>
      {approval !== undefined && <ApprovalPanel tool={card.tool} approval={approval} decide={decide} />}
      {card.error !== undefined && (
        <p class="tool-error" data-code={card.error.code}>
          {card.error.message} <span class="muted">({card.error.code})</span>
        </p>
      )}
    </section>
  );
}

/** How a wait ended; why a refused call did not run follows in the card's error line (tool_completed). */
const OUTCOMES: Readonly<Record<Exclude<ApprovalDecision, 'pending'>, string>> = {
  approved: 'Approved',
  denied: 'Denied',
  expired: 'Expired',
  cancelled: 'Cancelled',
};

/**
 * The question a tool call waits on, then its answer. Every tab shows it from the run's events; the buttons are this
 * tab's: once clicked they stay busy until `tool_approval_resolved` arrives (from this tab's decision or another's).
 */
function ApprovalPanel({
  tool,
  approval,
  decide,
}: {
  readonly tool: string;
  readonly approval: ToolApproval;
  readonly decide: ((approved: boolean) => Promise<void>) | undefined;
}) {
  const [sending, setSending] = useState<boolean | null>(null);
  const [refused, setRefused] = useState<{ code: string; text: string } | null>(null);
  const choose = (approved: boolean): void => {
    setSending(approved);
    setRefused(null);
    decide?.(approved).catch((err: unknown) => {
      setSending(null);
      setRefused({ code: errorCode(err), text: describeError(err) });
    });
  };
  const outcome = approval.decision === 'pending' ? undefined : OUTCOMES[approval.decision];
  return (
    <div class="approval" data-decision={approval.decision} role="group" aria-label={`Approval for ${tool}`}>
      {outcome === undefined ? (
        <>
          <p class="approval-question">
            <strong>Allow this call to {tool}?</strong> <Expiry at={approval.expiresAt} />
          </p>
          {decide === undefined ? (
            <p class="muted">Not decided.</p>
          ) : (
            <div class="approval-actions" aria-busy={sending !== null}>
              <button type="button" class="primary" disabled={sending !== null} onClick={() => choose(true)}>
                {sending === true ? 'Approving…' : 'Approve'}
              </button>
              <button type="button" class="deny" disabled={sending !== null} onClick={() => choose(false)}>
                {sending === false ? 'Denying…' : 'Deny'}
              </button>
            </div>
          )}
        </>
      ) : (
        <p class="approval-outcome" role="status">
          {outcome}
        </p>
      )}
      {refused !== null && (
        <p class="error" role="alert" data-code={refused.code}>
          {refused.text}
        </p>
      )}
    </div>
  );
}

/** When a wait runs out: the server's time, shown in the page's clock (a skewed clock shifts the countdown only). */
function Expiry({ at }: { readonly at: string }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const left = Date.parse(at) - now;
  return (
    <span class="approval-expiry">
      Expires at <time dateTime={at}>{new Date(at).toLocaleTimeString()}</time>
      {left > 0 && ` (${left < 60_000 ? `${Math.ceil(left / 1000)} s` : formatDuration(left)} left)`}.
    </span>
  );
}

/** Ticks while a run is going; stands still (and says so) while it waits for the user's approval. */
function Elapsed({ run }: { readonly run: RunView }) {
  const [now, setNow] = useState(Date.now());
  const paused = run.pausedSince !== null;
  useEffect(() => {
    if (paused) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [paused]);
  return (
    <span class="elapsed" role="timer" aria-label="Elapsed time" data-paused={paused ? 'true' : undefined}>
      {formatDuration(workedMs(run, now))}
      {paused && <span class="muted"> (paused)</span>}
    </span>
  );
}

/** A stored answer (from the thread's history), with its steps loaded on demand. */
export function StoredAnswer({
  client,
  text,
  runId,
  threadId,
}: {
  readonly client: AgentgateClient;
  readonly text: string;
  readonly runId: string | null;
  readonly threadId: string;
}) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  const [run, setRun] = useState<RunView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = (event: Event): void => {
    if (!(event.currentTarget as HTMLDetailsElement).open || run !== null || runId === null) return;
    client.runEvents(runId).then(
      (events) => setRun(runFromEvents(runId, threadId, events)),
      (err: unknown) => setError(describeError(err)),
    );
  };
  return (
    <article class="run" data-status="completed" aria-label="Agent answer">
      <div class="answer markdown" dangerouslySetInnerHTML={{ __html: html }} />
      {runId !== null && (
        <details class="history" onToggle={load}>
          <summary>Show steps</summary>
          {run === null ? (
            error === null ? (
              <p class="muted">Loading…</p>
            ) : (
              <p class="error">{error}</p>
            )
          ) : (
            <Steps steps={run.steps} />
          )}
        </details>
      )}
    </article>
  );
}

function prettyJson(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value, null, 2);
}

function compactJson(value: unknown): string {
  if (value === undefined) return '';
  const text = JSON.stringify(value);
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}
