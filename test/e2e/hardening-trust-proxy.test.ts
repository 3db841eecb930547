import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createTestApp, type TestApp } from '../../src/testing/index.js';

/**
 * Hardening: behind a reverse proxy every client arrives from the proxy's address. Without TRUST_PROXY the per-IP
 * limits are one limit for everyone behind it; with TRUST_PROXY the client named by the proxy in X-Forwarded-For is
 * the one counted, and a client cannot name itself. The proxy is a real one: a small Node HTTP proxy that appends
 * the address it was reached from, as nginx's `proxy_add_x_forwarded_for` does; clients reach it from distinct
 * loopback addresses (127.0.0.2, 127.0.0.3...).
 */

async function startProxy(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    const forwarded = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    const out = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'x-forwarded-for': forwarded, host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let logins = 0;

/** A failed login through the proxy from `from` (a loopback address), with optional headers of the client's own. */
function badLogin(proxyUrl: string, from: string, headers: Record<string, string> = {}): Promise<number> {
  const url = new URL('/auth/login', proxyUrl);
  // A new account each time: only the per-IP limit can refuse, never the per-account one.
  const body = JSON.stringify({ email: `nobody-${from}-${++logins}@example.com`, password: 'wrong password' });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress: from,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function attempts(
  proxyUrl: string,
  from: string,
  n: number,
  headers?: Record<string, string>,
): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push(await badLogin(proxyUrl, from, headers));
  return statuses;
}

function suite(trustProxy: string | undefined): { proxy: () => string } {
  let app: TestApp;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  beforeAll(async () => {
    app = await createTestApp({
      LOGIN_ATTEMPTS_PER_MINUTE: '3',
      ...(trustProxy === undefined ? {} : { TRUST_PROXY: trustProxy }),
    });
    proxy = await startProxy(app.url);
  });
  afterAll(async () => {
    await proxy?.close();
    await app?.close();
  });
  return { proxy: () => proxy.url };
}

describe('TRUST_PROXY=1 (one proxy hop)', () => {
  const { proxy } = suite('1');

  it("each client behind the proxy has its own login limit: one client's 4th attempt is 429, another client is not locked out", async () => {
    expect(await attempts(proxy(), '127.0.0.2', 4)).toEqual([401, 401, 401, 429]);
    expect(await attempts(proxy(), '127.0.0.3', 1)).toEqual([401]);
  });

  it("a client cannot name itself: an X-Forwarded-For it sends is before the proxy's entry, and is not trusted", async () => {
    const spoofed = await attempts(proxy(), '127.0.0.4', 4, { 'x-forwarded-for': '198.51.100.7' });
    expect(spoofed).toEqual([401, 401, 401, 429]);
    // Changing the spoofed address does not give it a fresh count.
    expect(await attempts(proxy(), '127.0.0.4', 1, { 'x-forwarded-for': '198.51.100.8' })).toEqual([429]);
  });
});

describe('TRUST_PROXY=127.0.0.1 (the proxy by address)', () => {
  const { proxy } = suite('127.0.0.1');

  it('the client named by the trusted proxy is counted', async () => {
    expect(await attempts(proxy(), '127.0.0.5', 4)).toEqual([401, 401, 401, 429]);
    expect(await attempts(proxy(), '127.0.0.6', 1)).toEqual([401]);
  });
});

describe('without TRUST_PROXY (the default)', () => {
  const { proxy } = suite(undefined);

  it("X-Forwarded-For is ignored: everyone behind the proxy shares the proxy's limit", async () => {
    expect(await attempts(proxy(), '127.0.0.7', 3)).toEqual([401, 401, 401]);
    expect(await attempts(proxy(), '127.0.0.8', 1)).toEqual([429]);
  });
});

describe('TRUST_PROXY values', () => {
  it('off by default; a hop count or addresses/CIDRs are taken; anything else refuses to start, naming the setting', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).trustProxy).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test', TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ NODE_ENV: 'test', TRUST_PROXY: '10.0.0.0/8, 192.168.1.1, loopback' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '192.168.1.1',
      'loopback',
    ]);
    expect(() => loadConfig({ NODE_ENV: 'test', TRUST_PROXY: 'the proxy' })).toThrow(/TRUST_PROXY/);
  });
});
