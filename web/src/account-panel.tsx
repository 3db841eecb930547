import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { AgentgateClient, PublicUser, SessionSummary } from '../../src/client/index.js';
import { describeError, errorCode } from './session.js';

interface Props {
  readonly client: AgentgateClient;
  readonly user: PublicUser;
  readonly onClose: () => void;
  /**
   * Runs something that ends this login (log out everywhere, delete the account); once it succeeded the page goes
   * back to the sign-in screen with `notice`. It rejects, changing nothing, when `action` fails.
   */
  readonly onEnd: (action: () => Promise<void>, notice: string) => Promise<void>;
}

/** What a demo user (who has no password) types to confirm deleting the account. */
const CONFIRM_WORD = 'DELETE';
const MIN_PASSWORD = 8;

/**
 * The account, in a modal dialog: where the user is signed in (each login can be ended, or all of them), the
 * password, and deleting the account. Errors are said in words, chosen by the server's error code.
 */
export function AccountPanel({ client, user, onClose, onEnd }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [changes, setChanges] = useState(0);
  // Modal from its first paint: a key pressed at once (Escape) already reaches it.
  useLayoutEffect(() => {
    dialog.current?.showModal();
  }, []);
  return (
    <dialog
      ref={dialog}
      class="modal account"
      aria-labelledby="account-title"
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <header class="modal-head">
        <h2 id="account-title">Your account</h2>
        <button type="button" class="secondary" onClick={onClose}>
          Close
        </button>
      </header>
      <p class="muted account-who">{user.isDemo ? 'Demo user' : user.email}</p>
      {/* A new password ends the other sessions: the list is read again. */}
      <Sessions key={changes} client={client} onEnd={onEnd} />
      {!user.isDemo && <ChangePassword client={client} onChanged={() => setChanges(changes + 1)} />}
      <DeleteAccount client={client} user={user} onEnd={onEnd} />
    </dialog>
  );
}

function Sessions({ client, onEnd }: { readonly client: AgentgateClient; readonly onEnd: Props['onEnd'] }) {
  const [sessions, setSessions] = useState<readonly SessionSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const load = useCallback(async () => {
    try {
      setSessions(await client.sessions());
    } catch (err) {
      setError(describeError(err));
    }
  }, [client]);
  useEffect(() => void load(), [load]);

  const end = async (session: SessionSummary): Promise<void> => {
    setBusy(true);
    setError(null);
    setStatus(null);
    try {
      await client.endSession(session.id);
      setStatus(`Signed out the session started ${when(session.createdAt)}.`);
    } catch (err) {
      // Gone already (it logged out, or expired): the list below is simply refreshed.
      if (errorCode(err) !== 'not_found') setError(describeError(err));
    }
    setBusy(false);
    await load();
  };
  const everywhere = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await onEnd(() => client.logoutEverywhere(), 'You were logged out everywhere.');
    } catch (err) {
      setBusy(false);
      setError(describeError(err));
    }
  };

  return (
    <section class="account-section" aria-labelledby="sessions-title">
      <h3 id="sessions-title">Where you are signed in</h3>
      {sessions === null && error === null && <p class="muted">Loading…</p>}
      {sessions !== null && (
        <ul class="sessions" aria-busy={busy}>
          {sessions.map((s) => (
            <li key={s.id} class="session" data-current={s.current ? 'true' : undefined}>
              <span class="session-what">
                <strong>{s.current ? 'This tab' : 'Another tab or device'}</strong>
                <span class="muted small">
                  Signed in {when(s.createdAt)}, last active {when(s.lastUsedAt)}
                </span>
              </span>
              {!s.current && (
                <button
                  type="button"
                  disabled={busy}
                  aria-label={`Sign out the session started ${when(s.createdAt)}`}
                  onClick={() => void end(s)}
                >
                  Sign out
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {status !== null && (
        <p class="success" role="status">
          {status}
        </p>
      )}
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="button" class="danger-button" disabled={busy} onClick={() => void everywhere()}>
        Log out everywhere
      </button>
      <p class="muted small">Every session ends, this one too.</p>
    </section>
  );
}

function ChangePassword({ client, onChanged }: { readonly client: AgentgateClient; readonly onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const current = field(data, 'current-password');
    const next = field(data, 'new-password');
    setDone(false);
    if (next.length < MIN_PASSWORD) return setError(`The new password needs at least ${MIN_PASSWORD} characters.`);
    if (next === current) return setError('The new password is the same as the current one.');
    setBusy(true);
    setError(null);
    try {
      await client.changePassword(current, next);
      form.reset();
      setDone(true);
      onChanged();
    } catch (err) {
      setError(describePasswordError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="account-section" aria-labelledby="password-title">
      <h3 id="password-title">Change password</h3>
      <form onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <label>
          Current password
          <input name="current-password" type="password" autocomplete="current-password" required maxLength={1024} />
        </label>
        <label>
          New password
          <input
            name="new-password"
            type="password"
            autocomplete="new-password"
            required
            maxLength={1024}
            aria-describedby="new-password-hint"
          />
        </label>
        <p id="new-password-hint" class="hint">
          At least {MIN_PASSWORD} characters, not a common password and not your email.
        </p>
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {done && (
          <p class="success" role="status">
            Password changed. Your other sessions were signed out.
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Changing…' : 'Change password'}
        </button>
      </form>
    </section>
  );
}

function DeleteAccount({
  client,
  user,
  onEnd,
}: {
  readonly client: AgentgateClient;
  readonly user: PublicUser;
  readonly onEnd: Props['onEnd'];
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    // The server asks for the password (a demo user has none: typing the word confirms it here).
    if (user.isDemo && field(data, 'confirm').trim() !== CONFIRM_WORD)
      return setError(`Type ${CONFIRM_WORD} to confirm.`);
    const password = user.isDemo ? undefined : field(data, 'password');
    setBusy(true);
    setError(null);
    try {
      await onEnd(() => client.deleteAccount(password), 'Your account was deleted.');
    } catch (err) {
      setBusy(false);
      setError(errorCode(err) === 'invalid_credentials' ? 'Wrong password: nothing was deleted.' : describeError(err));
    }
  };
  return (
    <section class="account-section" aria-labelledby="delete-account-title">
      <h3 id="delete-account-title">Delete account</h3>
      <p id="delete-account-what">
        Your account, every conversation and every answer are deleted, and you are signed out everywhere. This cannot be
        undone.
      </p>
      <form onSubmit={(e) => void submit(e)} aria-busy={busy} aria-describedby="delete-account-what">
        {user.isDemo ? (
          <label>
            Type {CONFIRM_WORD} to confirm
            <input name="confirm" type="text" autocomplete="off" required />
          </label>
        ) : (
          <label>
            Your password, to confirm
            <input name="password" type="password" autocomplete="current-password" required maxLength={1024} />
          </label>
        )}
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="danger-button" disabled={busy}>
          {busy ? 'Deleting…' : 'Delete my account'}
        </button>
      </form>
    </section>
  );
}

/** A password change refused, in words: by the server's error code, its own sentence for a weak new password. */
function describePasswordError(err: unknown): string {
  switch (errorCode(err)) {
    case 'invalid_credentials':
      return 'The current password is wrong.';
    case 'invalid_request':
      // The server's own sentence says why (too common, a sequence, the email); its field name is left out.
      return `This new password cannot be used: ${err instanceof Error ? err.message.replace(/^(new)?password: /i, '') : 'choose another.'}`;
    default:
      return describeError(err);
  }
}

function field(data: FormData, name: string): string {
  const value = data.get(name);
  return typeof value === 'string' ? value : '';
}

function when(iso: string): string {
  return new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}
