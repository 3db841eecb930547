import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { AgentgateClient } from '../../src/client/index.js';
import type { ConversationRow } from './chat-state.js';
import { RunCard, StoredAnswer, type Decide } from './run-card.js';
import { describeError } from './session.js';

const SUGGESTIONS = ['calculate 12*7', 'what time is it in Europe/Paris', 'search docs for tickets', 'wait 5 seconds'];

interface Props {
  readonly client: AgentgateClient;
  readonly threadId: string;
  readonly title: string;
  readonly rows: readonly ConversationRow[];
  readonly loading: boolean;
  /** The conversation has messages before the oldest one shown. */
  readonly hasOlder: boolean;
  /** Loads the page before the oldest message shown; rejects with the SDK's error. */
  readonly onOlder: () => Promise<void>;
  readonly onStop: (runId: string) => void;
  readonly onDecide: Decide;
  readonly onSuggestion: (text: string) => void;
}

export function Conversation(props: Props) {
  const { client, threadId, title, rows, loading, hasOlder, onOlder, onStop, onDecide, onSuggestion } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  /** The row that was first on screen before older messages were added above it, and where it was. */
  const anchor = useRef<{ key: string; top: number } | null>(null);
  const start = useRef<HTMLParagraphElement>(null);
  const [older, setOlder] = useState<{ busy: boolean; error: string | null; loaded: boolean }>({
    busy: false,
    error: null,
    loaded: false,
  });
  useLayoutEffect(() => setOlder({ busy: false, error: null, loaded: false }), [threadId]);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el === null) return;
    // Older messages went in above: the row that was on screen stays where it was.
    const held = anchor.current;
    const row = held === null ? null : el.querySelector<HTMLElement>(`[data-row="${CSS.escape(held.key)}"]`);
    if (held !== null && row !== null) {
      el.scrollTop += row.getBoundingClientRect().top - held.top;
      return;
    }
    // Follow the end of the conversation while the reader is there; leave them be when they scrolled up.
    if (pinned.current) el.scrollTop = el.scrollHeight;
  });
  const showOlder = async (): Promise<void> => {
    const el = scroller.current;
    const first = el?.querySelector<HTMLElement>('[data-row]');
    const key = first?.dataset.row;
    anchor.current =
      first === null || first === undefined || key === undefined
        ? null
        : { key, top: first.getBoundingClientRect().top };
    pinned.current = false;
    setOlder({ busy: true, error: null, loaded: false });
    try {
      await onOlder();
      setOlder({ busy: false, error: null, loaded: true });
      // Held until the rows above are in (Preact renders before timers run), and not a moment longer.
      setTimeout(() => (anchor.current = null));
    } catch (err) {
      anchor.current = null;
      setOlder({ busy: false, error: describeError(err), loaded: false });
    }
  };
  // The last page is in: the button is gone, so its focus goes to the start of the conversation (where the reader is
  // stays on screen: the next Tab goes on from there into the older messages).
  useLayoutEffect(() => {
    if (!hasOlder && older.loaded) start.current?.focus({ preventScroll: true });
  }, [hasOlder, older.loaded]);
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
      {hasOlder ? (
        <div class="older">
          <button type="button" disabled={older.busy} aria-busy={older.busy} onClick={() => void showOlder()}>
            {older.busy ? 'Loading older messages…' : 'Show older messages'}
          </button>
          {older.error !== null && (
            <p class="error" role="alert">
              {older.error}
            </p>
          )}
        </div>
      ) : (
        older.loaded && (
          <p ref={start} class="older muted" tabIndex={-1}>
            Start of the conversation.
          </p>
        )
      )}
      <ol class="rows">
        {rows.map((row) => {
          if (row.kind === 'run') {
            return (
              <li key={`run-${row.run.runId}`} class="row row-agent" data-row={`run-${row.run.runId}`}>
                <RunCard run={row.run} onStop={onStop} onDecide={onDecide} />
              </li>
            );
          }
          if (row.kind === 'answer') {
            return (
              <li key={row.item.key} class="row row-agent" data-row={row.item.key}>
                <StoredAnswer client={client} text={row.item.text} runId={row.item.runId} threadId={threadId} />
              </li>
            );
          }
          const { item } = row;
          return (
            <li
              key={item.key}
              class="row row-user"
              data-row={item.key}
              data-pending={item.pending === true ? 'true' : undefined}
            >
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
