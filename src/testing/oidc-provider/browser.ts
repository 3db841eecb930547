import type { HttpResult } from '../http-client.js';
import { CookieJar } from './cookie-jar.js';

export interface BrowserResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The Location header resolved against the request URL, if any. */
  readonly location: URL | undefined;
  /** The raw Location header: what a browser would be told, before any resolution. */
  readonly rawLocation: string | null;
  readonly text: string;
}

export interface SignInResult {
  /** The provider's redirect back to the app (code and state in its query), as this browser followed it. */
  readonly callbackUrl: URL;
  /** The app's answer to the callback. */
  readonly response: BrowserResponse;
  /** Where the app sent the browser: returnTo with login_code or login_error, or undefined when it did not redirect. */
  readonly location: URL | undefined;
}

/**
 * One browser without a browser: fetch with manual redirects and a cookie jar of its own. Two instances are two
 * browsers (the "another browser's cookie" cases).
 */
export class Browser {
  constructor(readonly jar = new CookieJar()) {}

  /** Another browser holding a copy of this one's cookies as they are now (a stolen or restored cookie). */
  fork(): Browser {
    return new Browser(this.jar.clone());
  }

  /** One request as this browser: cookies sent and kept, redirects not followed. */
  async navigate(
    url: URL | string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ): Promise<BrowserResponse> {
    const target = new URL(url);
    const cookie = this.jar.header(target);
    const res = await fetch(target, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: { ...init.headers, ...(cookie === undefined ? {} : { cookie }) },
      ...(init.body === undefined ? {} : { body: init.body }),
    });
    this.jar.store(target, res.headers.getSetCookie());
    const rawLocation = res.headers.get('location');
    const location = rawLocation === null ? undefined : new URL(rawLocation, target);
    return { status: res.status, headers: res.headers, location, rawLocation, text: await res.text() };
  }

  /**
   * Follows redirects (and pages that submit a form by script, as the provider's account switch does) from `url`
   * until a Location satisfies `stop`; that URL is returned, not requested.
   */
  async followUntil(url: URL | string, stop: (location: URL) => boolean, maxHops = 20): Promise<URL> {
    let res = await this.navigate(url);
    for (let hop = 0; hop < maxHops; hop++) {
      const form = res.status === 200 ? autoSubmittedForm(res.text) : undefined;
      if (form !== undefined) {
        const headers = { 'content-type': 'application/x-www-form-urlencoded' };
        res = await this.navigate(form.action, { method: 'POST', body: form.fields.toString(), headers });
        continue;
      }
      if (res.location === undefined || res.status < 300 || res.status > 399)
        throw new Error(
          `expected a redirect on the way from ${String(url)}, got ${res.status}: ${res.text.slice(0, 500)}`,
        );
      if (stop(res.location)) return res.location;
      res = await this.navigate(res.location);
    }
    throw new Error(`more than ${maxHops} redirects from ${String(url)}`);
  }

  /**
   * The app's GET /auth/oidc/start → the provider's authorization endpoint → the harness's interaction → … up to
   * the redirect to the app's callback, which is returned without being requested.
   */
  authorize(appUrl: string, returnTo?: string): Promise<URL> {
    const start = new URL('/auth/oidc/start', appUrl);
    if (returnTo !== undefined) start.searchParams.set('returnTo', returnTo);
    const app = new URL(appUrl);
    return this.followUntil(start, (u) => u.host === app.host && u.pathname === '/auth/oidc/callback');
  }

  /** The whole sign-in: authorize, then the callback as this browser. */
  async start(appUrl: string, returnTo?: string): Promise<SignInResult> {
    const callbackUrl = await this.authorize(appUrl, returnTo);
    const response = await this.navigate(callbackUrl);
    return { callbackUrl, response, location: response.location };
  }

  /** POST /auth/oidc/exchange {code} with this browser's cookies. */
  async exchange<T = Record<string, unknown>>(appUrl: string, code: string): Promise<HttpResult<T>> {
    const res = await this.navigate(new URL('/auth/oidc/exchange', appUrl), {
      method: 'POST',
      body: JSON.stringify({ code }),
      headers: { 'content-type': 'application/json' },
    });
    let body: unknown = res.text;
    try {
      body = res.text === '' ? undefined : JSON.parse(res.text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body: body as T };
  }
}

const unescapeHtml = (s: string): string =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The POST form of a page whose script submits it on load (the only script a test browser "runs"). */
function autoSubmittedForm(html: string): { action: string; fields: URLSearchParams } | undefined {
  if (!html.includes('document.forms[0].submit()')) return undefined;
  const action = /<form method="post" action="([^"]*)"/i.exec(html)?.[1];
  if (action === undefined) return undefined;
  const fields = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"/gi))
    fields.append(unescapeHtml(m[1] ?? ''), unescapeHtml(m[2] ?? ''));
  return { action: unescapeHtml(action), fields };
}
