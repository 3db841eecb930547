import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';

/**
 * Origin checks on the upgrade (CONTRACT "WebSocket: GET /ws": exact match of scheme, host and port; `null` refused;
 * no Origin header is not checked; the development default is the server's own origin). CWE-1385: cross-site
 * WebSocket hijacking.
 *
 * Browsers serialize an Origin per RFC 6454 6.2 (lowercase scheme and host, default port omitted), so the server
 * may compare the header byte for byte. These tests assert that strict reading: a value no browser would send for
 * the allowed origin (uppercase host, explicit port, trailing slash) is refused.
 */

type User = Awaited<ReturnType<typeof registerUser>>;

let strict: TestApp;
let dev: TestApp;
let loose: TestApp;
let strictUser: User;
let devUser: User;
let looseUser: User;
beforeAll(async () => {
  [strict, dev, loose] = await Promise.all([
    createTestApp({ ALLOWED_ORIGINS: 'https://app.example.com, https://admin.example.com' }),
    createTestApp(),
    createTestApp({ ALLOWED_ORIGINS: 'https://APP.Example.com:443/' }),
  ]);
  [strictUser, devUser, looseUser] = await Promise.all([registerUser(strict.url, 'origin'), registerUser(dev.url, 'origin-dev'), registerUser(loose.url, 'origin-loose')]);
});
afterAll(async () => {
  await Promise.all([strict?.close(), dev?.close(), loose?.close()]);
});

/** 'open' when the upgrade succeeded (the socket is closed again), else the refusal's HTTP status. */
async function attempt(app: TestApp, token: string, origin: string | undefined, viaTicket = false): Promise<number | 'open'> {
  const headers: Record<string, string> = origin === undefined ? {} : { origin };
  let url = wsUrl(app.url);
  if (viaTicket) {
    const res = await fetch(`${app.url}/ws/ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    url = ((await res.json()) as { url: string }).url;
  } else {
    headers.authorization = `Bearer ${token}`;
  }
  return TestSocket.open(url, { headers }).then(
    (ws) => (ws.close(), 'open' as const),
    (err: Error & { status?: number }) => err.status ?? Promise.reject(err),
  );
}

/** A raw upgrade, to read the refusal's body. */
function rawUpgrade(app: TestApp, token: string, origin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(app.port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => (socket.destroy(), reject(new Error(`no answer; got ${text}`))), 5_000);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', reject);
    socket.on('close', () => (clearTimeout(timer), resolve(text)));
    socket.write(
      [
        'GET /ws HTTP/1.1',
        `Host: 127.0.0.1:${app.port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
        `Origin: ${origin}`,
        `Authorization: Bearer ${token}`,
        '',
        '',
      ].join('\r\n'),
    );
  });
}

describe('ALLOWED_ORIGINS=https://app.example.com,https://admin.example.com', () => {
  it('CWE-1385: each listed origin may open a socket (header and ticket auth)', async () => {
    expect(await attempt(strict, strictUser.accessToken, 'https://app.example.com')).toBe('open');
    expect(await attempt(strict, strictUser.accessToken, 'https://admin.example.com')).toBe('open');
    expect(await attempt(strict, strictUser.accessToken, 'https://app.example.com', true)).toBe('open');
  });

  it('CWE-1385: a look-alike host (suffix, prefix, subdomain) is refused 403', async () => {
    for (const origin of ['https://app.example.com.evil.com', 'https://evilapp.example.com', 'https://x.app.example.com', 'https://example.com', 'https://app.example.co']) {
      expect(await attempt(strict, strictUser.accessToken, origin), origin).toBe(403);
    }
  });

  it('CONTRACT WS Origin: the scheme must match exactly (http:// and wss:// are refused 403)', async () => {
    for (const origin of ['http://app.example.com', 'wss://app.example.com', 'ws://app.example.com']) {
      expect(await attempt(strict, strictUser.accessToken, origin), origin).toBe(403);
    }
  });

  it('CONTRACT WS Origin: the port must match exactly (https://app.example.com:8443 is refused 403)', async () => {
    expect(await attempt(strict, strictUser.accessToken, 'https://app.example.com:8443')).toBe(403);
  });

  it('CONTRACT WS Origin / RFC 6454 7.3: Origin "null" (sandboxed iframes, file:, data:) is refused 403', async () => {
    expect(await attempt(strict, strictUser.accessToken, 'null')).toBe(403);
    expect(await attempt(strict, strictUser.accessToken, 'null', true)).toBe(403);
  });

  it('RFC 6454 6.2: non-serialized forms of the allowed origin (uppercase host, trailing slash, list, empty) are refused 403', async () => {
    for (const origin of ['https://APP.example.com', 'https://app.example.com/', 'https://app.example.com, https://evil.com', 'https://evil.com https://app.example.com', '', '*']) {
      expect(await attempt(strict, strictUser.accessToken, origin), JSON.stringify(origin)).toBe(403);
    }
  });

  it('CONTRACT WS Origin: a request with no Origin header (not a browser) is not checked', async () => {
    expect(await attempt(strict, strictUser.accessToken, undefined)).toBe('open');
    expect(await attempt(strict, strictUser.accessToken, undefined, true)).toBe('open');
  });

  it('CONTRACT Errors: the 403 is a plain HTTP response with an error body and no WebSocket', async () => {
    const text = await rawUpgrade(strict, strictUser.accessToken, 'https://evil.example.com');
    expect(text).toMatch(/^HTTP\/1\.1 403 /);
    expect(text).not.toMatch(/101 Switching Protocols/i);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
    expect(body.error.code).toMatch(/^[a-z][a-z_]*$/);
    expect(body.error.code).toBe('origin_not_allowed');
    expect(body.error.message).toEqual(expect.any(String));
  });
});

describe('development default (no ALLOWED_ORIGINS)', () => {
  it('CONTRACT WS Origin: the server\'s own origin is allowed', async () => {
    expect(await attempt(dev, devUser.accessToken, dev.url)).toBe('open');
    expect(await attempt(dev, devUser.accessToken, dev.url, true)).toBe('open');
    expect(await attempt(dev, devUser.accessToken, undefined)).toBe('open');
  });

  it('CWE-1385: a foreign origin, or the same host on another port or scheme, is refused 403', async () => {
    const other = dev.port === 65535 ? dev.port - 1 : dev.port + 1;
    for (const origin of ['https://evil.example.com', `http://127.0.0.1:${other}`, `https://127.0.0.1:${dev.port}`, 'null']) {
      expect(await attempt(dev, devUser.accessToken, origin), origin).toBe(403);
    }
  });
});

describe('ALLOWED_ORIGINS written loosely by an operator', () => {
  it('CONFIG ALLOWED_ORIGINS: an entry is compared as an origin (https://APP.Example.com:443/ allows the browser\'s https://app.example.com)', async () => {
    expect(await attempt(loose, looseUser.accessToken, 'https://app.example.com')).toBe('open');
    expect(await attempt(loose, looseUser.accessToken, 'http://app.example.com')).toBe(403);
    expect(await attempt(loose, looseUser.accessToken, 'https://app.example.com.evil.com')).toBe(403);
  });
});
