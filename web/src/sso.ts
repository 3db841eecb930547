/** What an OpenID Connect sign-in brought back to this page: a login code, or why it failed. */
export interface SignInLanding {
  readonly code?: string;
  readonly error?: string;
}

/**
 * Reads `login_code` / `login_error` off the URL and removes them at once (history.replaceState): a code in the
 * address bar must not be bookmarked, shared or sent again by a reload.
 */
export function takeSignInLanding(): SignInLanding | null {
  const url = new URL(location.href);
  const code = url.searchParams.get('login_code');
  const error = url.searchParams.get('login_error');
  if (code === null && error === null) return null;
  url.searchParams.delete('login_code');
  url.searchParams.delete('login_error');
  history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
  return { ...(code === null ? {} : { code }), ...(error === null ? {} : { error }) };
}

/** Where the sign-in button sends the browser: back to this page afterwards. */
export function signInUrl(): string {
  return `/auth/oidc/start?returnTo=${encodeURIComponent(location.pathname)}`;
}

/** A sentence for a failed sign-in, by the code the server put in `login_error`. */
export function describeSignInError(code: string): string {
  switch (code) {
    case 'access_denied':
      return 'Sign-in was cancelled at the provider.';
    case 'invalid_oidc_callback':
      return 'The sign-in could not be completed (it may have expired or been opened in another browser). Try again.';
    // Anything else came from the address bar, so it is not repeated: it could be any text.
    default:
      return 'The sign-in failed. Try again.';
  }
}
