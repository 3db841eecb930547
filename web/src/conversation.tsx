import { useLayoutEffect, useRef } from 'preact/hooks';
import type { AgentgateClient } from '../../src/client/index.js';
import type { ConversationRow } from './chat-state.js';
import { RunCard, StoredAnswer, type Decide } from './run-card.js';

const SUGGESTIONS = ['calculate 12*7', 'what time is it in Europe/Paris', 'search docs for tickets', 'wait 5 seconds'];

interface Props {
  readonly client: AgentgateClient;
  readonly threadId: string;
  readonly title: string;
  readonly rows: readonly ConversationRow[];
  readonly loading: boolean;
  readonly onStop: (runId: string) => void;
  readonly onDecide: Decide;
  readonly onSuggestion: (text: string) => void;
}

export function Conversation({ client, threadId, title, rows, loading, onStop, onDecide, onSuggestion }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  // Follow the end of the conversation while the reader is there; leave them be when they scrolled up.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el !== null && pinned.current) el.scrollTop = el.scrollHeight;
  });
  const onScroll = (): void => {
    const el = scroller.current;
    if (el !== null) pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
  };

  return (
    <div class="conversation-scroll" ref={scroller} onScroll={onScroll}>
      <h1 class="conversation-title">{title}</h1>
      {rows.length === 0 && !loading && (
        <section class="empty" aria-labelledby="empty-title">
          <h2 id="empty-title">Ask the agent something</h2>
          <p class="muted">You will see each step live: its thinking, every tool it calls, then the answer. Try:</p>
          <ul class="suggestions">
            {SUGGESTIONS.map((s) => (
              <li key={s}>
                <button type="button" class="chip" onClick={() => onSuggestion(s)}>
                  {s}
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      {loading && rows.length === 0 && (
        <p class="muted" role="status">
          Loading the conversation…
        </p>
      )}
      <ol class="rows">
        {rows.map((row) => {
          if (row.kind === 'run') {
            return (
              <li key={`run-${row.run.runId}`} class="row row-agent">
                <RunCard run={row.run} onStop={onStop} onDecide={onDecide} />
              </li>
            );
          }
          if (row.kind === 'answer') {
            return (
              <li key={row.item.key} class="row row-agent">
                <StoredAnswer client={client} text={row.item.text} runId={row.item.runId} threadId={threadId} />
              </li>
            );
          }
          const { item } = row;
          return (
            <li key={item.key} class="row row-user" data-pending={item.pending === true ? 'true' : undefined}>
              <p class="bubble">{item.text}</p>
              {item.pending === true && <span class="muted small">Sending…</span>}
              {item.failed !== undefined && (
                <span class="error small" role="alert" data-code={item.failed}>
                  Not sent ({item.failed})
                </span>
              )}
            </li>
          );
        })}
      </ol>
    </div>
  );
}
