import type { RunEvent, ThreadMessage, ThreadSummary } from '../../src/protocol/wire/index.js';
import { applyRunEvent, awaitsApproval, emptyRun, type RunView } from './timeline.js';

/** A line of the conversation: a stored message, or a message this tab sent that the server has not echoed yet. */
export interface ChatItem {
  readonly key: string;
  readonly role: 'user' | 'assistant';
  readonly text: string;
  readonly runId: string | null;
  /** Sent from this tab, not yet announced back (message_added) or not yet accepted. */
  readonly pending?: boolean;
  /** Why the server refused it (an error code). */
  readonly failed?: string;
}

/** The key for messages typed into a new conversation, until the server names its thread. */
export const NEW_THREAD = '';

export interface ChatState {
  readonly threads: readonly ThreadSummary[];
  readonly threadId: string;
  /** Messages per thread; a thread is absent until loaded. */
  readonly items: Readonly<Record<string, readonly ChatItem[]>>;
  /** Live and recently finished runs of this user, in any thread. */
  readonly runs: Readonly<Record<string, RunView>>;
  /** The cursor of the next page of (less recently active) threads; null when the list is whole. */
  readonly moreThreads: string | null;
  /** Per loaded thread, the cursor of its next older page of messages (`nextBefore`); null when none is left. */
  readonly older: Readonly<Record<string, string | null>>;
}

export type ChatAction =
  | { type: 'threads_loaded'; threads: readonly ThreadSummary[]; nextBefore?: string | null }
  | { type: 'more_threads_loaded'; threads: readonly ThreadSummary[]; nextBefore: string | null }
  | { type: 'thread_selected'; threadId: string }
  | { type: 'messages_loaded'; threadId: string; messages: readonly ThreadMessage[]; nextBefore?: string | null }
  | { type: 'older_loaded'; threadId: string; messages: readonly ThreadMessage[]; nextBefore: string | null }
  | { type: 'thread_renamed'; thread: ThreadSummary }
  | { type: 'thread_deleted'; threadId: string }
  | { type: 'message_sent'; key: string; threadId: string; text: string }
  | { type: 'message_accepted'; key: string; threadId: string; runId: string }
  | { type: 'message_refused'; key: string; threadId: string; code: string }
  | { type: 'message_added'; threadId: string; runId: string; message: { id: string; text: string } }
  | { type: 'run_event'; event: RunEvent };

export const initialChat: ChatState = {
  threads: [],
  threadId: NEW_THREAD,
  items: {},
  runs: {},
  moreThreads: null,
  older: {},
};

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'threads_loaded':
      return { ...state, threads: action.threads, moreThreads: action.nextBefore ?? null };
    case 'more_threads_loaded': {
      const listed = new Set(state.threads.map((t) => t.id));
      return {
        ...state,
        threads: [...state.threads, ...action.threads.filter((t) => !listed.has(t.id))],
        moreThreads: action.nextBefore,
      };
    }
    case 'thread_selected':
      return { ...state, threadId: action.threadId };
    case 'messages_loaded': {
      // Messages this tab sent that the stored list does not contain yet stay at the end.
      const stored = action.messages.map(fromStored);
      const storedRuns = new Set(stored.filter((m) => m.role === 'user').map((m) => m.runId));
      const unsent = (state.items[action.threadId] ?? []).filter(
        (m) =>
          m.role === 'user' && (m.runId === null || !storedRuns.has(m.runId)) && !stored.some((s) => s.key === m.key),
      );
      const loaded = withItems(state, action.threadId, [...stored, ...unsent]);
      return { ...loaded, older: { ...loaded.older, [action.threadId]: action.nextBefore ?? null } };
    }
    case 'older_loaded': {
      // The page before the oldest one shown goes on top; anything already shown (a message added meanwhile) stays once.
      const list = state.items[action.threadId] ?? [];
      const shown = new Set(list.map((m) => m.key));
      const older = action.messages.map(fromStored).filter((m) => !shown.has(m.key));
      const loaded = withItems(state, action.threadId, [...older, ...list]);
      return { ...loaded, older: { ...loaded.older, [action.threadId]: action.nextBefore } };
    }
    case 'thread_renamed':
      return { ...state, threads: state.threads.map((t) => (t.id === action.thread.id ? action.thread : t)) };
    case 'thread_deleted': {
      const { [action.threadId]: _items, ...items } = state.items;
      const { [action.threadId]: _older, ...older } = state.older;
      return { ...state, threads: state.threads.filter((t) => t.id !== action.threadId), items, older };
    }
    case 'message_sent':
      return withItems(state, action.threadId, [
        ...(state.items[action.threadId] ?? []),
        { key: action.key, role: 'user', text: action.text, runId: null, pending: true },
      ]);
    case 'message_accepted': {
      const withRunView = state.runs[action.runId] ? state : withRun(state, emptyRun(action.runId, action.threadId));
      // A new conversation's first message moves from NEW_THREAD to the thread the server created.
      const from = state.items[NEW_THREAD]?.some((m) => m.key === action.key) ? NEW_THREAD : action.threadId;
      const sent = state.items[from]?.find((m) => m.key === action.key);
      if (sent === undefined) return withRunView;
      const accepted: ChatItem = { ...sent, runId: action.runId, pending: false };
      // message_added may have come first: then the server's copy is already listed.
      const echoed =
        withRunView.items[action.threadId]?.some((m) => m.role === 'user' && m.runId === action.runId) ?? false;
      const source = withRunView.items[from] ?? [];
      if (from === action.threadId)
        return withItems(
          withRunView,
          from,
          echoed
            ? source.filter((m) => m.key !== action.key)
            : source.map((m) => (m.key === action.key ? accepted : m)),
        );
      const next = withItems(
        withRunView,
        from,
        source.filter((m) => m.key !== action.key),
      );
      return echoed ? next : withItems(next, action.threadId, [...(next.items[action.threadId] ?? []), accepted]);
    }
    case 'message_refused':
      return withItems(
        state,
        action.threadId,
        (state.items[action.threadId] ?? []).map((m) =>
          m.key === action.key ? { ...m, pending: false, failed: action.code } : m,
        ),
      );
    case 'message_added': {
      const list = state.items[action.threadId];
      const next = state.runs[action.runId] ? state : withRun(state, emptyRun(action.runId, action.threadId));
      // Not loaded yet: the thread's stored messages will include it.
      if (list === undefined) return next;
      const known = list.findIndex((m) => m.role === 'user' && m.runId === action.runId);
      const item: ChatItem = { key: action.message.id, role: 'user', text: action.message.text, runId: action.runId };
      if (known >= 0)
        return withItems(
          next,
          action.threadId,
          list.map((m, i) => (i === known ? item : m)),
        );
      return withItems(next, action.threadId, [...list, item]);
    }
    case 'run_event': {
      const { event } = action;
      const view = state.runs[event.runId] ?? emptyRun(event.runId, event.threadId);
      const updated = applyRunEvent(view, event);
      return updated === view ? state : withRun(state, updated);
    }
  }
}

function fromStored(m: ThreadMessage): ChatItem {
  return { key: m.id, role: m.role, text: m.text, runId: m.runId };
}

function withItems(state: ChatState, threadId: string, items: readonly ChatItem[]): ChatState {
  return { ...state, items: { ...state.items, [threadId]: items } };
}

function withRun(state: ChatState, run: RunView): ChatState {
  return { ...state, runs: { ...state.runs, [run.runId]: run } };
}

/** What the conversation view shows, in order: each user message, then its run (live view or stored answer). */
export type ConversationRow =
  | { readonly kind: 'message'; readonly item: ChatItem }
  | { readonly kind: 'run'; readonly run: RunView }
  | { readonly kind: 'answer'; readonly item: ChatItem };

export function conversationRows(state: ChatState): ConversationRow[] {
  const items = state.items[state.threadId] ?? [];
  const rows: ConversationRow[] = [];
  const shownRuns = new Set<string>();
  for (const item of items) {
    if (item.role === 'user') {
      rows.push({ kind: 'message', item });
      const run = item.runId === null ? undefined : state.runs[item.runId];
      if (run !== undefined) {
        rows.push({ kind: 'run', run });
        shownRuns.add(run.runId);
      }
    } else if (item.runId === null || !shownRuns.has(item.runId)) {
      rows.push({ kind: 'answer', item });
    }
  }
  // A run whose user message is not listed (another tab's, before its thread was reloaded) still shows.
  for (const run of Object.values(state.runs)) {
    if (
      run.threadId === state.threadId &&
      state.threadId !== NEW_THREAD &&
      !shownRuns.has(run.runId) &&
      !items.some((m) => m.runId === run.runId)
    )
      rows.push({ kind: 'run', run });
  }
  return rows;
}

/** The threads with a run of this user waiting for the approval of a tool call (open in this tab or not). */
export function threadsAwaitingApproval(state: ChatState): ReadonlySet<string> {
  return new Set(
    Object.values(state.runs)
      .filter((run) => run.status === 'running' && awaitsApproval(run))
      .map((run) => run.threadId),
  );
}
