import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { Thread } from '../../src/client/index.js';
import { describeError } from './session.js';

interface Props {
  readonly threads: readonly Thread[];
  readonly selected: string;
  readonly open: boolean;
  /** Threads with a run waiting for the user's approval of a tool call. */
  readonly waiting: ReadonlySet<string>;
  /** Less recently active conversations are not listed yet. */
  readonly hasMore: boolean;
  /** Lists the next page of them; rejects with the SDK's error. */
  readonly onMore: () => Promise<void>;
  readonly onNew: () => void;
  readonly onPicked: () => void;
  /** Resolves once the server took the new title; rejects with the SDK's error. */
  readonly onRename: (threadId: string, title: string) => Promise<void>;
  /** Resolves once the thread is gone; rejects with the SDK's error. */
  readonly onDelete: (threadId: string) => Promise<void>;
}

/** The longest title the server takes (PATCH /threads/:id). */
const MAX_TITLE = 200;

/**
 * The user's conversations, newest first; each is a link to its URL fragment, so keyboard and history just work.
 * Beside each, Rename (in place) and Delete (after a confirmation).
 */
export function ThreadList(props: Props) {
  const { threads, selected, open, waiting, hasMore, onMore, onNew, onPicked, onRename, onDelete } = props;
  const sorted = [...threads].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  const [renaming, setRenaming] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<Thread | null>(null);
  const newChat = useRef<HTMLButtonElement>(null);
  return (
    <nav id="threads" class={open ? 'sidebar open' : 'sidebar'} aria-label="Conversations">
      <button ref={newChat} type="button" class="primary new-chat" onClick={onNew}>
        + New chat
      </button>
      {sorted.length === 0 ? (
        <p class="muted empty-threads">No conversations yet.</p>
      ) : (
        <ul class="thread-list">
          {sorted.map((t) => {
            const title = t.title || 'Untitled';
            const flagged = waiting.has(t.id);
            return (
              <li key={t.id} class="thread" data-waiting={flagged ? 'true' : undefined}>
                {renaming === t.id ? (
                  <RenameForm
                    thread={t}
                    onRename={onRename}
                    onDone={() => {
                      setRenaming(null);
                      focusThreadLink(t.id);
                    }}
                  />
                ) : (
                  <>
                    <a
                      href={`#/t/${encodeURIComponent(t.id)}`}
                      aria-current={t.id === selected ? 'page' : undefined}
                      onClick={onPicked}
                      data-thread-id={t.id}
                    >
                      <span class="thread-title">{title}</span>
                      {flagged && <span class="thread-flag">Waiting for your approval</span>}
                      <time class="thread-time" dateTime={t.updatedAt}>
                        {shortTime(t.updatedAt)}
                      </time>
                    </a>
                    <span class="thread-actions">
                      <button type="button" class="icon" title="Rename" onClick={() => setRenaming(t.id)}>
                        <span aria-hidden="true">✎</span>
                        <span class="visually-hidden">Rename “{title}”</span>
                      </button>
                      <button type="button" class="icon danger" title="Delete" onClick={() => setDeleting(t)}>
                        <span aria-hidden="true">✕</span>
                        <span class="visually-hidden">Delete “{title}”</span>
                      </button>
                    </span>
                  </>
                )}
              </li>
            );
          })}
        </ul>
      )}
      {hasMore && <MoreThreads shown={sorted.length} onMore={onMore} />}
      {deleting !== null && (
        <ConfirmDelete
          thread={deleting}
          onDelete={onDelete}
          onClose={(deleted) => {
            const id = deleting.id;
            setDeleting(null);
            if (deleted) newChat.current?.focus();
            else focusThreadLink(id);
          }}
        />
      )}
    </nav>
  );
}

/** "Show more conversations": the next page goes below; focus moves to the first conversation it brought. */
function MoreThreads({ shown, onMore }: { readonly shown: number; readonly onMore: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const more = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await onMore();
      setTimeout(() => document.querySelectorAll<HTMLElement>('.thread-list a[data-thread-id]')[shown]?.focus());
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="more-threads">
      <button type="button" disabled={busy} aria-busy={busy} onClick={() => void more()}>
        {busy ? 'Loading…' : 'Show more conversations'}
      </button>
      {error !== null && (
        <p class="error small" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function RenameForm({
  thread,
  onRename,
  onDone,
}: {
  readonly thread: Thread;
  readonly onRename: Props['onRename'];
  readonly onDone: () => void;
}) {
  const input = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, []);
  const id = `rename-${thread.id}`;
  const save = async (event: Event): Promise<void> => {
    event.preventDefault();
    const title = input.current?.value.trim() ?? '';
    if (title === '') return setError('A name cannot be empty.');
    if (title === thread.title) return onDone();
    setBusy(true);
    setError(null);
    try {
      await onRename(thread.id, title);
      onDone();
    } catch (err) {
      setBusy(false);
      setError(describeError(err));
    }
  };
  return (
    <form
      class="rename-form"
      onSubmit={(e) => void save(e)}
      onKeyDown={(e) => e.key === 'Escape' && onDone()}
      aria-busy={busy}
    >
      <label for={id}>New name for “{thread.title || 'Untitled'}”</label>
      <input
        ref={input}
        id={id}
        type="text"
        defaultValue={thread.title}
        maxLength={MAX_TITLE}
        required
        aria-invalid={error !== null}
        aria-describedby={error === null ? undefined : `${id}-error`}
      />
      <span class="rename-actions">
        <button type="submit" class="primary" disabled={busy}>
          Save
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </span>
      {error !== null && (
        <p id={`${id}-error`} class="error small" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

/** A modal question (the browser's <dialog>: focus stays inside, Escape cancels); Cancel has the focus first. */
function ConfirmDelete({
  thread,
  onDelete,
  onClose,
}: {
  readonly thread: Thread;
  readonly onDelete: Props['onDelete'];
  readonly onClose: (deleted: boolean) => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Modal from its first paint: a key pressed at once (Escape) already reaches it.
  useLayoutEffect(() => {
    dialog.current?.showModal();
  }, []);
  const confirm = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await onDelete(thread.id);
      onClose(true);
    } catch (err) {
      setBusy(false);
      setError(describeError(err));
    }
  };
  return (
    <dialog
      ref={dialog}
      class="modal"
      aria-labelledby="delete-title"
      aria-describedby="delete-what"
      onCancel={(e) => {
        e.preventDefault();
        if (!busy) onClose(false);
      }}
    >
      <h2 id="delete-title">Delete this conversation?</h2>
      <p id="delete-what">
        “{thread.title || 'Untitled'}” and all its messages will be deleted. An answer still in progress is stopped.
        This cannot be undone.
      </p>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="modal-actions">
        <button type="button" autofocus disabled={busy} onClick={() => onClose(false)}>
          Cancel
        </button>
        <button type="button" class="danger-button" disabled={busy} onClick={() => void confirm()}>
          {busy ? 'Deleting…' : 'Delete conversation'}
        </button>
      </div>
    </dialog>
  );
}

function focusThreadLink(threadId: string): void {
  // After the re-render that brings the link back.
  setTimeout(() => document.querySelector<HTMLElement>(`a[data-thread-id="${CSS.escape(threadId)}"]`)?.focus());
}

function shortTime(iso: string): string {
  const date = new Date(iso);
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : date.toLocaleDateString();
}
