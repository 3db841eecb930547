import type { Thread } from '../../src/client/index.js';

interface Props {
  readonly threads: readonly Thread[];
  readonly selected: string;
  readonly open: boolean;
  readonly onNew: () => void;
  readonly onPicked: () => void;
}

/** The user's conversations, newest first; each is a link to its URL fragment, so keyboard and history just work. */
export function ThreadList({ threads, selected, open, onNew, onPicked }: Props) {
  const sorted = [...threads].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  return (
    <nav id="threads" class={open ? 'sidebar open' : 'sidebar'} aria-label="Conversations">
      <button type="button" class="primary new-chat" onClick={onNew}>
        + New chat
      </button>
      {sorted.length === 0 ? (
        <p class="muted empty-threads">No conversations yet.</p>
      ) : (
        <ul class="thread-list">
          {sorted.map((t) => (
            <li key={t.id}>
              <a
                href={`#/t/${encodeURIComponent(t.id)}`}
                aria-current={t.id === selected ? 'page' : undefined}
                onClick={onPicked}
                data-thread-id={t.id}
              >
                <span class="thread-title">{t.title || 'Untitled'}</span>
                <time class="thread-time" dateTime={t.updatedAt}>
                  {shortTime(t.updatedAt)}
                </time>
              </a>
            </li>
          ))}
        </ul>
      )}
    </nav>
  );
}

function shortTime(iso: string): string {
  const date = new Date(iso);
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : date.toLocaleDateString();
}
