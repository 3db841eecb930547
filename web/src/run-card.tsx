import { useEffect, useMemo, useState } from 'preact/hooks';
import type { AgentgateClient } from '../../src/client/index.js';
import type { RunStatus } from '../../src/protocol/wire/index.js';
import { renderMarkdown } from './markdown.js';
import { describeError } from './session.js';
import { elapsedMs, formatDuration, runFromEvents, type RunView, type Step, type ToolCard } from './timeline.js';

/** How a run's end reads; `running` never shows here (the footer shows progress instead). */
const STATUS_LABELS: Readonly<Record<RunStatus, string>> = {
  running: 'Working',
  completed: 'Answered',
  cancelled: 'Stopped',
  error: 'Failed',
  interrupted: 'Interrupted',
};

/** One run as it happens: thinking lines and tool cards in order, the answer streaming in, then how it ended. */
export function RunCard({ run, onStop }: { readonly run: RunView; readonly onStop: (runId: string) => void }) {
  const running = run.status === 'running';
  return (
    <article class="run" data-run-id={run.runId} data-status={run.status} aria-label="Agent answer">
      <Steps steps={run.steps} />
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
              {run.steps.length === 0 && run.answer === '' ? 'Starting' : run.answer === '' ? 'Working' : 'Answering'}
            </span>
            <Elapsed since={run.startedAt} />
            <button type="button" class="stop" onClick={() => onStop(run.runId)}>
              Stop
            </button>
          </>
        ) : (
          <span class="run-state">
            {STATUS_LABELS[run.status]}
            {run.endedAt !== null && ` in ${formatDuration(elapsedMs(run.startedAt, run.endedAt))}`}
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

export function Steps({ steps }: { readonly steps: readonly Step[] }) {
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
            <ToolCardView card={step.card} />
          </li>
        ),
      )}
    </ol>
  );
}

function ToolCardView({ card }: { readonly card: ToolCard }) {
  return (
    <section class="tool" data-tool={card.tool} data-status={card.status} aria-label={`Tool ${card.tool}`}>
      <header class="tool-head">
        <span class="tool-name">{card.tool}</span>
        {card.status === 'running' ? (
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
          <pre class="tool-args">{compactJson(card.args)}</pre>
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
      {card.error !== undefined && (
        <p class="tool-error" data-code={card.error.code}>
          {card.error.message} <span class="muted">({card.error.code})</span>
        </p>
      )}
    </section>
  );
}

/** Ticks while a run is going. */
function Elapsed({ since }: { readonly since: string | null }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, []);
  return (
    <span class="elapsed" role="timer" aria-label="Elapsed time">
      {formatDuration(elapsedMs(since, now))}
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

function compactJson(value: unknown): string {
  if (value === undefined) return '';
  const text = JSON.stringify(value);
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}
