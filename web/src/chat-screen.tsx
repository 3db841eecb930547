import { useCallback, useEffect, useReducer, useRef, useState } from 'preact/hooks';
import type { AgentgateClient, ConnectionState, PublicUser, StateDetail } from '../../src/client/index.js';
import { isTerminalEvent, PAGE_LIMITS } from '../../src/protocol/wire/index.js';
import { AccountPanel } from './account-panel.js';
import { chatReducer, conversationRows, initialChat, NEW_THREAD, threadsAwaitingApproval } from './chat-state.js';
import { Composer } from './composer.js';
import { ConnectionBadge } from './connection-badge.js';
import { Conversation } from './conversation.js';
import { describeError, errorCode, loginIsOver } from './session.js';
import { ThreadList } from './thread-list.js';

interface Props {
  readonly client: AgentgateClient;
  readonly user: PublicUser;
  /** The session is over: by the user (null) or by the server (a sentence saying why). */
  readonly onSignedOut: (why: string | null) => void;
}

/** Messages per page: a conversation opens on its latest page, and "Show older messages" reads the one before. */
const MESSAGE_PAGE = 50;

/** Conversations per page of the list; "Show more conversations" reads the next. */
const THREAD_PAGE = 50;

/** How long after a run's cancellation the list is read again (see onEvent below). */
const THREAD_DELETE_SETTLE_MS = 1_000;

/** The selected conversation lives in the URL fragment (#/t/<id>): reloads, back and forward keep it. */
function threadFromHash(): string {
  const match = /^#\/t\/([^/]+)$/.exec(location.hash);
  return match?.[1] === undefined ? NEW_THREAD : decodeURIComponent(match[1]);
}

export function ChatScreen({ client, user, onSignedOut }: Props) {
  const [state, dispatch] = useReducer(chatReducer, initialChat);
  const [connection, setConnection] = useState<{ state: ConnectionState; detail?: StateDetail | undefined }>({
    state: client.state,
  });
  const [problem, setProblem] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [menuOpen, setMenuOpen] = useState(false);
  const [accountOpen, setAccountOpen] = useState(false);
  const accountButton = useRef<HTMLButtonElement>(null);
  const latest = useRef(state);
  latest.current = state;
  const sent = useRef(0);
  const loggingOut = useRef(false);

  /** The login ended elsewhere (another tab logged it out, the password changed, the account is gone). */
  const sessionOver = useCallback(() => {
    if (loggingOut.current) return;
    loggingOut.current = true;
    // Forgets the tokens here; telling the server fails, as the login is already over there.
    client.logout().catch(() => undefined);
    onSignedOut('Your session has ended. Sign in again.');
  }, [client, onSignedOut]);

  const fail = useCallback(
    (err: unknown) => (loginIsOver(err) ? sessionOver() : setProblem(describeError(err))),
    [sessionOver],
  );

  /** Leaves a conversation that is gone, for a new chat, without a history entry to come back to it. */
  const leaveThread = useCallback((threadId: string) => {
    dispatch({ type: 'thread_deleted', threadId });
    if (latest.current.threadId !== threadId) return;
    history.replaceState(null, '', location.pathname);
    dispatch({ type: 'thread_selected', threadId: NEW_THREAD });
  }, []);

  /**
   * No event says a thread was deleted (in another tab or device): the open one missing from the whole list, or a
   * message to it refused as not_found, is checked with the server, and the page leaves it once it is confirmed gone.
   */
  const checkGone = useCallback(
    async (threadId: string) => {
      try {
        await client.messagePage(threadId, { limit: 1 });
      } catch (err) {
        if (errorCode(err) !== 'not_found') return;
        const wasOpen = latest.current.threadId === threadId;
        leaveThread(threadId);
        if (wasOpen) setProblem('This conversation was deleted.');
      }
    },
    [client, leaveThread],
  );

  const loadThreads = useCallback(async () => {
    try {
      // Once more than a page is listed, all of it is read again (renames and deletions included): the whole list
      // when it was whole, new conversations included; else as many as shown, the oldest going back behind "more".
      const { threads, moreThreads } = latest.current;
      const limit =
        threads.length <= THREAD_PAGE
          ? THREAD_PAGE
          : moreThreads === null
            ? PAGE_LIMITS.max
            : Math.min(PAGE_LIMITS.max, threads.length);
      const page = await client.threadPage({ limit });
      dispatch({ type: 'threads_loaded', threads: page.threads, nextBefore: page.nextBefore });
      const open = latest.current.threadId;
      if (
        page.nextBefore === null &&
        open !== NEW_THREAD &&
        latest.current.items[open] !== undefined &&
        !page.threads.some((t) => t.id === open)
      )
        void checkGone(open);
    } catch (err) {
      fail(err);
    }
  }, [client, checkGone, fail]);

  /**
   * Asks the SDK for a run this page has not seen (a reload mid-run, a stopped run opened later): its events, from
   * the first, then arrive through onEvent like any other, once and in order.
   */
  const followed = useRef(new Set<string>());
  const follow = useCallback(
    (runId: string) => {
      if (followed.current.has(runId)) return;
      followed.current.add(runId);
      // A run that ended without its terminal event (`interrupted`) is shown as it was stored; anything else failed.
      client.follow(runId).done.catch((err: unknown) => {
        if (errorCode(err) === 'interrupted') return;
        followed.current.delete(runId);
        setProblem(describeError(err));
      });
    },
    [client],
  );

  const openThread = useCallback(
    async (threadId: string) => {
      dispatch({ type: 'thread_selected', threadId });
      setProblem(null);
      if (threadId === NEW_THREAD) return;
      setLoading(true);
      try {
        const { messages, nextBefore } = await client.messagePage(threadId, { limit: MESSAGE_PAGE });
        dispatch({ type: 'messages_loaded', threadId, messages, nextBefore });
        // A question without a stored answer may still be running (a reload mid-run), or have been stopped.
        const answered = new Set(messages.filter((m) => m.role === 'assistant').map((m) => m.runId));
        for (const m of messages) {
          const run = m.runId === null ? undefined : latest.current.runs[m.runId];
          if (
            m.role === 'user' &&
            m.runId !== null &&
            !answered.has(m.runId) &&
            (run === undefined || run.lastSeq === 0)
          )
            follow(m.runId);
        }
      } catch (err) {
        fail(err);
      } finally {
        setLoading(false);
      }
    },
    [client, follow, fail],
  );

  /** The page of messages before the oldest one shown (a stored answer's question may be on it). */
  const loadOlder = useCallback(async () => {
    const { threadId } = latest.current;
    const before = latest.current.older[threadId];
    if (before === null || before === undefined) return;
    const { messages, nextBefore } = await client.messagePage(threadId, { limit: MESSAGE_PAGE, before });
    dispatch({ type: 'older_loaded', threadId, messages, nextBefore });
    // A question of this page without an answer on it or below was stopped (or failed): its run says how.
    const shown = latest.current.items[threadId] ?? [];
    const answered = new Set(
      [...messages, ...shown].filter((m) => m.role === 'assistant' && m.runId !== null).map((m) => m.runId),
    );
    for (const m of messages)
      if (m.role === 'user' && m.runId !== null && !answered.has(m.runId) && latest.current.runs[m.runId] === undefined)
        follow(m.runId);
  }, [client, follow]);

  const loadMoreThreads = useCallback(async () => {
    const before = latest.current.moreThreads;
    if (before === null) return;
    const page = await client.threadPage({ limit: THREAD_PAGE, before });
    dispatch({ type: 'more_threads_loaded', threads: page.threads, nextBefore: page.nextBefore });
  }, [client]);

  const rename = useCallback(
    async (threadId: string, title: string) => {
      try {
        dispatch({ type: 'thread_renamed', thread: await client.renameThread(threadId, title) });
      } catch (err) {
        if (errorCode(err) === 'not_found') void loadThreads();
        throw err;
      }
    },
    [client, loadThreads],
  );

  // The server stops a run in progress in it first; other tabs hear of it by that run's end or their next action.
  const remove = useCallback(
    async (threadId: string) => {
      try {
        await client.deleteThread(threadId);
      } catch (err) {
        // Deleted meanwhile (another tab): gone either way.
        if (errorCode(err) !== 'not_found') throw err;
      }
      leaveThread(threadId);
      void loadThreads();
    },
    [client, leaveThread, loadThreads],
  );

  useEffect(() => {
    let settle: ReturnType<typeof setTimeout> | undefined;
    const offs = [
      client.onEvent((event) => {
        dispatch({ type: 'run_event', event });
        if (isTerminalEvent(event)) void loadThreads();
        // A run stopped because its thread is being deleted (in any tab): the thread goes just after its runs end.
        if (event.type === 'run_cancelled') {
          clearTimeout(settle);
          settle = setTimeout(() => void loadThreads(), THREAD_DELETE_SETTLE_MS);
        }
      }),
      client.onMessageAdded((m) => {
        dispatch({ type: 'message_added', threadId: m.threadId, runId: m.runId, message: m.message });
        if (!latest.current.threads.some((t) => t.id === m.threadId)) void loadThreads();
      }),
      client.onStateChange((next, detail) => {
        setConnection({ state: next, detail });
        // The server ended the session (logout elsewhere, a replayed refresh token): back to the sign-in screen.
        if (
          !loggingOut.current &&
          (detail?.error?.code === 'session_revoked' || (next === 'closed' && client.user === null))
        )
          onSignedOut('Your session has ended. Sign in again.');
      }),
    ];
    const onHash = (): void => void openThread(threadFromHash());
    // Back to this tab: the list may have changed elsewhere (renamed or deleted conversations send no event).
    const onVisible = (): void => {
      if (document.visibilityState === 'visible') void loadThreads();
    };
    window.addEventListener('hashchange', onHash);
    document.addEventListener('visibilitychange', onVisible);
    client.connect().catch((err: unknown) => setProblem(describeError(err)));
    void loadThreads();
    onHash();
    return () => {
      for (const off of offs) off();
      window.removeEventListener('hashchange', onHash);
      document.removeEventListener('visibilitychange', onVisible);
      clearTimeout(settle);
    };
  }, [client, loadThreads, openThread, onSignedOut]);

  const send = (text: string): void => {
    const threadId = state.threadId;
    sent.current += 1;
    const key = `local-${sent.current}`;
    dispatch({ type: 'message_sent', key, threadId, text });
    const handle = client.run(text, threadId === NEW_THREAD ? {} : { threadId });
    handle.accepted.then(
      (accepted) => {
        dispatch({ type: 'message_accepted', key, threadId: accepted.threadId, runId: accepted.runId });
        if (threadId === NEW_THREAD) {
          location.hash = `#/t/${encodeURIComponent(accepted.threadId)}`;
          void loadThreads();
        }
      },
      (err: unknown) => {
        dispatch({ type: 'message_refused', key, threadId, code: errorCode(err) });
        if (loginIsOver(err)) sessionOver();
        else if (errorCode(err) === 'not_found' && threadId !== NEW_THREAD) void checkGone(threadId);
      },
    );
    // The run's events arrive through onEvent; its end only needs to be awaited, not its events iterated.
    handle.done.catch(() => undefined);
  };

  const stop = (runId: string): void => {
    client.cancel(runId).catch(fail);
  };

  // approve_tool over the socket (HTTP when offline); a refusal is shown on the card that asked, not in the banner.
  const decide = (runId: string, toolCallId: string, approved: boolean): Promise<void> =>
    client.approve(runId, toolCallId, approved);

  const logOut = async (): Promise<void> => {
    loggingOut.current = true;
    try {
      await client.logout();
    } catch {
      // The tokens are forgotten locally either way.
    }
    history.replaceState(null, '', location.pathname);
    onSignedOut(null);
  };

  /** Log out everywhere, delete the account: this login ends on purpose, then the sign-in screen says how. */
  const endLogin = async (action: () => Promise<void>, notice: string): Promise<void> => {
    loggingOut.current = true;
    try {
      await action();
    } catch (err) {
      loggingOut.current = false;
      throw err;
    }
    history.replaceState(null, '', location.pathname);
    onSignedOut(notice);
  };

  const current = state.threads.find((t) => t.id === state.threadId);
  const title = state.threadId === NEW_THREAD ? 'New chat' : current?.title || 'Conversation';
  return (
    <div class="chat">
      <header class="topbar">
        <button
          type="button"
          class="menu-button"
          aria-expanded={menuOpen}
          aria-controls="threads"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          <span aria-hidden="true">☰</span>
          <span class="visually-hidden">Conversations</span>
        </button>
        <span class="brand">
          <span class="logo" aria-hidden="true">
            a
          </span>
          <span class="brand-name">agentgate</span>
        </span>
        <ConnectionBadge state={connection.state} detail={connection.detail} />
        <span class="who" title={user.email}>
          {user.isDemo ? 'Demo user' : (user.displayName ?? user.email)}
        </span>
        <button
          ref={accountButton}
          type="button"
          class="account-button"
          aria-haspopup="dialog"
          onClick={() => setAccountOpen(true)}
        >
          <span class="account-icon" aria-hidden="true">
            ⚙
          </span>
          <span class="account-label">Account</span>
        </button>
        <button type="button" class="secondary" onClick={() => void logOut()}>
          Log out
        </button>
      </header>
      <ThreadList
        threads={state.threads}
        selected={state.threadId}
        open={menuOpen}
        waiting={threadsAwaitingApproval(state)}
        hasMore={state.moreThreads !== null}
        onMore={loadMoreThreads}
        onRename={rename}
        onDelete={remove}
        onPicked={() => setMenuOpen(false)}
        onNew={() => {
          setMenuOpen(false);
          location.hash = '#/';
          document.getElementById('message')?.focus();
        }}
      />
      <main class="conversation" aria-label="Conversation">
        {problem !== null && (
          <p class="banner error" role="alert">
            {problem}{' '}
            <button type="button" class="link" onClick={() => setProblem(null)}>
              Dismiss
            </button>
          </p>
        )}
        <Conversation
          client={client}
          threadId={state.threadId}
          title={title}
          rows={conversationRows(state)}
          loading={loading}
          hasOlder={typeof state.older[state.threadId] === 'string'}
          onOlder={loadOlder}
          onStop={stop}
          onDecide={decide}
          onSuggestion={send}
        />
        <Composer onSend={send} />
      </main>
      {accountOpen && (
        <AccountPanel
          client={client}
          user={user}
          onClose={() => {
            setAccountOpen(false);
            accountButton.current?.focus();
          }}
          onEnd={endLogin}
        />
      )}
    </div>
  );
}
