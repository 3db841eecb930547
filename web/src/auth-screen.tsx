import { useEffect, useRef, useState } from 'preact/hooks';
import type { AgentgateClient, AuthProvider, PublicUser } from '../../src/client/index.js';
import { signInUrl } from './sso.js';
import { isDemoMode } from './server-info.js';
import { describeError } from './session.js';

type Mode = 'sign_in' | 'sign_up';

interface Props {
  readonly client: AgentgateClient;
  readonly onSignedIn: (user: PublicUser) => void;
  /** Why the user is here again (their session ended). */
  readonly notice: string | null;
}

export function AuthScreen({ client, onSignedIn, notice }: Props) {
  const [mode, setMode] = useState<Mode>('sign_in');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [demo, setDemo] = useState(false);
  const [providers, setProviders] = useState<AuthProvider[]>([]);
  const emailRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    void isDemoMode().then(setDemo);
    // No providers (or no answer): only the password form.
    client.providers().then(setProviders, () => setProviders([]));
    emailRef.current?.focus();
  }, []);

  const attempt = async (action: () => Promise<PublicUser>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await action());
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  };

  const submit = (event: Event): void => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const field = (key: string): string => {
      const value = form.get(key);
      return typeof value === 'string' ? value : '';
    };
    const email = field('email');
    const password = field('password');
    const name = field('name').trim();
    void attempt(() =>
      mode === 'sign_up'
        ? client.register(email, password, name === '' ? undefined : name)
        : client.login(email, password),
    );
  };

  const switchTo = (next: Mode): void => {
    setMode(next);
    setError(null);
  };

  return (
    <main class="auth">
      <header class="auth-intro">
        <p class="brand brand-large" aria-hidden="true">
          <span class="logo">a</span> agentgate
        </p>
        <h1>Chat with an AI agent that uses tools, live.</h1>
        <p class="muted">
          Watch it think, call tools and answer as it happens. Your conversations are private to your account.
        </p>
      </header>
      <section class="card" aria-labelledby="auth-title">
        <h2 id="auth-title">{mode === 'sign_in' ? 'Sign in' : 'Create your account'}</h2>
        {notice !== null && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        {providers.length > 0 && mode === 'sign_in' && (
          <div class="sso">
            {providers.map((p) => (
              // A full navigation: the provider's page, then back here with a login code.
              <a key={p.id} class="button sso-button" href={signInUrl()}>
                Sign in with {p.name}
              </a>
            ))}
            <p class="muted or">or with your email</p>
          </div>
        )}
        <form onSubmit={submit} aria-busy={busy}>
          {mode === 'sign_up' && (
            <label>
              Name <span class="muted">(optional)</span>
              <input name="name" type="text" autocomplete="name" maxLength={100} />
            </label>
          )}
          <label>
            Email
            <input ref={emailRef} name="email" type="email" autocomplete="email" required maxLength={254} />
          </label>
          <label>
            Password
            <input
              name="password"
              type="password"
              autocomplete={mode === 'sign_up' ? 'new-password' : 'current-password'}
              required
              minLength={mode === 'sign_up' ? 8 : undefined}
              maxLength={1024}
              aria-describedby={mode === 'sign_up' ? 'password-hint' : undefined}
            />
          </label>
          {mode === 'sign_up' && (
            <p id="password-hint" class="hint">
              At least 8 characters.
            </p>
          )}
          {error !== null && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" class="primary" disabled={busy}>
            {mode === 'sign_in' ? 'Sign in' : 'Create account'}
          </button>
        </form>
        <p class="switch">
          {mode === 'sign_in' ? 'New here?' : 'Already have an account?'}{' '}
          <button type="button" class="link" onClick={() => switchTo(mode === 'sign_in' ? 'sign_up' : 'sign_in')}>
            {mode === 'sign_in' ? 'Create an account' : 'Sign in instead'}
          </button>
        </p>
        {demo && (
          <div class="demo">
            <p class="muted">No account? Look around first:</p>
            <button type="button" class="secondary" disabled={busy} onClick={() => void attempt(() => client.demo())}>
              Try the demo
            </button>
          </div>
        )}
      </section>
      <p class="footnote muted">The built-in agent can calculate, tell the time, search the docs and wait.</p>
    </main>
  );
}
