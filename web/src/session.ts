import { AgentgateClient, ClientError, type PublicUser } from '../../src/client/index.js';

/**
 * The refresh token is kept in this tab's sessionStorage (docs/WEB.md says why): it survives a reload, not the
 * tab. The access token lives only inside the SDK, in memory; the WebSocket is opened with a one-time ticket.
 */
const REFRESH_TOKEN_KEY = 'agentgate.refreshToken';

export function createClient(): AgentgateClient {
  return new AgentgateClient({
    baseUrl: location.origin,
    onRefreshToken: (token) => {
      try {
        if (token === null) sessionStorage.removeItem(REFRESH_TOKEN_KEY);
        else sessionStorage.setItem(REFRESH_TOKEN_KEY, token);
      } catch {
        // Storage disabled (private mode, policy): the session simply does not survive a reload.
      }
    },
  });
}

/** Resumes this tab's session after a reload, or null when there is none (or it ended meanwhile). */
export async function resumeSession(client: AgentgateClient): Promise<PublicUser | null> {
  let stored: string | null = null;
  try {
    stored = sessionStorage.getItem(REFRESH_TOKEN_KEY);
  } catch {
    return null;
  }
  if (stored === null) return null;
  try {
    return await client.restore(stored);
  } catch (err) {
    // A spent or revoked token: forget it. A network failure: keep it, the next reload may work.
    if (err instanceof ClientError && err.code !== 'network_error') sessionStorage.removeItem(REFRESH_TOKEN_KEY);
    return null;
  }
}

/** A sentence for a person, chosen by error code (never by the server's message text). */
export function describeError(err: unknown): string {
  const code = err instanceof ClientError ? err.code : 'unknown';
  switch (code) {
    case 'invalid_credentials':
      return 'Wrong email or password.';
    case 'email_taken':
      return 'An account with this email already exists: sign in instead.';
    case 'invalid_request':
      return err instanceof ClientError ? err.message : 'The request was refused.';
    case 'rate_limited':
      return 'Too many attempts. Wait a minute and try again.';
    case 'network_error':
      return 'The server cannot be reached. Check your connection and try again.';
    case 'not_found':
      return 'Not found (it may belong to another account, or be gone).';
    case 'invalid_login_code':
      return 'The sign-in expired or was already used. Sign in again.';
    case 'forbidden':
      return 'This account is disabled.';
    case 'already_resolved':
      return 'Already decided in another tab.';
    case 'thread_busy':
      return 'This conversation is busy: wait for the current answer.';
    case 'invalid_token':
    case 'not_authenticated':
      return 'Your session has ended. Sign in again.';
    case 'service_unavailable':
      return 'The service is temporarily unavailable. Try again shortly.';
    default:
      return `Something went wrong (${code}).`;
  }
}

/** Codes of HTTP answers that mean this tab's login is over (ended from another tab, or the account is gone). */
const LOGIN_OVER: ReadonlySet<string> = new Set([
  'invalid_token',
  'not_authenticated',
  'invalid_refresh_token',
  'refresh_token_reused',
  'session_revoked',
]);

export function loginIsOver(err: unknown): boolean {
  return LOGIN_OVER.has(errorCode(err));
}

export function errorCode(err: unknown): string {
  return err instanceof ClientError ? err.code : 'unknown';
}
