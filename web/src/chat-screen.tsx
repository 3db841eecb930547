import { useCallback, useEffect, useReducer, useRef, useState } from 'preact/hooks';
import type { AgentgateClient, ConnectionState, PublicUser, StateDetail } from '../../src/client/index.js';
import { isTerminalEvent } from '../../src/protocol/wire/index.js';
import { chatReducer, conversationRows, initialChat, NEW_THREAD } from './chat-state.js';
import { Composer } from './composer.js';
import { ConnectionBadge } from './connection-badge.js';
import { Conversation } from './conversation.js';
import { describeError, errorCode } from './session.js';
import { ThreadList } from './thread-list.js';

interface Props {
  readonly client: AgentgateClient;
  readonly user: PublicUser;
  /** The session is over: by the user (null) or by the server (a sentence saying why). */
  readonly onSignedOut: (why: string | null) => void;
}

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
  const latest = useRef(state);
  latest.current = state;
  const sent = useRef(0);
  const loggingOut = useRef(false);

  const loadThreads = useCallback(async () => {
    try {
      dispatch({ type: 'threads_loaded', threads: await client.threads() });
    } catch (err) {
      setProblem(describeError(err));
    }
  }, [client]);

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
        const messages = await client.messages(threadId);
        dispatch({ type: 'messages_loaded', threadId, messages });
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
        setProblem(describeError(err));
      } finally {
        setLoading(false);
      }
    },
    [client, follow],
  );

  useEffect(() => {
    const offs = [
      client.onEvent((event) => {
        dispatch({ type: 'run_event', event });
        if (isTerminalEvent(event)) void loadThreads();
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
    window.addEventListener('hashchange', onHash);
    client.connect().catch((err: unknown) => setProblem(describeError(err)));
    void loadThreads();
    onHash();
    return () => {
      for (const off of offs) off();
      window.removeEventListener('hashchange', onHash);
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
      (err: unknown) => dispatch({ type: 'message_refused', key, threadId, code: errorCode(err) }),
    );
    // The run's events arrive through onEvent; its end only needs to be awaited, not its events iterated.
    handle.done.catch(() => undefined);
  };

  const stop = (runId: string): void => {
    client.cancel(runId).catch((err: unknown) => setProblem(describeError(err)));
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
        <button type="button" class="secondary" onClick={() => void logOut()}>
          Log out
        </button>
      </header>
      <ThreadList
        threads={state.threads}
        selected={state.threadId}
        open={menuOpen}
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
          onStop={stop}
          onDecide={decide}
          onSuggestion={send}
        />
        <Composer onSend={send} />
      </main>
    </div>
  );
}
