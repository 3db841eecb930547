import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, type TestApp } from '../../src/testing/index.js';
import { BROWSER_MISSING, launchChromium } from './helpers/browser.js';

/**
 * CORS (CONTRACT "Running it"): the HTTP API answers browsers on exactly the origins of ALLOWED_ORIGINS (and
 * PUBLIC_URL's), without credentials; for any other origin it sends no CORS headers. Checked at the HTTP level and
 * from Chromium, with pages on a second (allowed) and a third (not allowed) origin.
 */

/** A page origin of its own: a static server on 127.0.0.1 that serves an empty page. */
async function pageOrigin(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html>'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let app: TestApp;
let allowed: Awaited<ReturnType<typeof pageOrigin>>;
let other: Awaited<ReturnType<typeof pageOrigin>>;
beforeAll(async () => {
  [allowed, other] = await Promise.all([pageOrigin(), pageOrigin()]);
  app = await createTestApp({ ALLOWED_ORIGINS: allowed.origin, PUBLIC_URL: 'https://chat.example.com' });
});
afterAll(async () => {
  await app?.close();
  for (const page of [allowed, other]) page?.server.close();
});

describe('CORS at the HTTP level', () => {
  it('a preflight from an allowed origin is answered with the methods and headers the API takes, and no credentials', async () => {
    const res = await fetch(`${app.url}/auth/login`, {
      method: 'OPTIONS',
      headers: {
        origin: allowed.origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,authorization',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(allowed.origin);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('last-event-id');
    expect(res.headers.get('access-control-max-age')).toBe('600');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('vary')).toContain('Origin');
  });

  it('answers carry the origin they allow (and expose Retry-After); PUBLIC_URL is always allowed; any other origin, and "null", gets no CORS header', async () => {
    const user = await registerUser(app.url, 'cors');
    const get = (origin: string) =>
      fetch(`${app.url}/threads`, { headers: { origin, authorization: `Bearer ${user.accessToken}` } });
    const ok = await get(allowed.origin);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(allowed.origin);
    expect(ok.headers.get('access-control-expose-headers')).toContain('Retry-After');
    expect((await get('https://chat.example.com')).headers.get('access-control-allow-origin')).toBe(
      'https://chat.example.com',
    );
    for (const origin of [other.origin, 'null', `${allowed.origin}.evil.example`, 'http://127.0.0.1']) {
      const refused = await get(origin);
      expect(refused.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
    const preflight = await fetch(`${app.url}/auth/login`, {
      method: 'OPTIONS',
      headers: { origin: other.origin, 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('an SSE stream, written past the framework, carries the CORS headers too', async () => {
    const user = await registerUser(app.url, 'cors-sse');
    const res = await fetch(`${app.url}/agui`, {
      method: 'POST',
      headers: {
        origin: allowed.origin,
        authorization: `Bearer ${user.accessToken}`,
        'content-type': 'application/json',
        accept: 'text/event-stream',
      },
      body: JSON.stringify({
        threadId: crypto.randomUUID(),
        runId: crypto.randomUUID(),
        state: {},
        tools: [],
        context: [],
        forwardedProps: {},
        messages: [{ id: 'u1', role: 'user', content: 'calculate 2+2' }],
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('access-control-allow-origin')).toBe(allowed.origin);
    expect(await res.text()).toContain('RUN_FINISHED');
  });
});

describe.skipIf(BROWSER_MISSING !== null)('CORS from Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** Registers and lists threads from a page on `origin`; what the page could read. */
  async function fromPageOn(origin: string): Promise<{ threads: string }> {
    const page = await browser.newPage();
    try {
      await page.goto(origin);
      return await page.evaluate(async (api) => {
        const result = { threads: '' };
        try {
          const email = `cors-${crypto.randomUUID()}@example.com`;
          const auth = (await (
            await fetch(`${api}/auth/register`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ email, password: 'a page on another origin' }),
            })
          ).json()) as { accessToken: string };
          const threads = await fetch(`${api}/threads`, { headers: { authorization: `Bearer ${auth.accessToken}` } });
          result.threads = `${threads.status} ${JSON.stringify(await threads.json())}`;
        } catch (err) {
          result.threads ||= `blocked: ${String(err)}`;
        }
        return result;
      }, app.url);
    } finally {
      await page.close();
    }
  }

  it('a page on an allowed origin calls the API; a page on another origin is blocked by the browser', async () => {
    const fromAllowed = await fromPageOn(allowed.origin);
    expect(fromAllowed.threads).toBe('200 {"threads":[],"nextBefore":null}');
    const fromOther = await fromPageOn(other.origin);
    expect(fromOther.threads).toMatch(/^blocked: TypeError/);
  });
});
