import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';
import { upgrade } from '../e2e/helpers/wire.js';
import { RawClient, rawHttp, upgradeHead } from './helpers/wire-raw.js';

/**
 * Cross-site WebSocket hijacking (CWE-1385; OWASP WebSocket Security Cheat Sheet; RFC 6455 §10.2 "Origin
 * Considerations"): a page on another origin opens a socket to the gateway. CONTRACT "WebSocket: GET /ws": the Origin
 * must match an allowed origin exactly (scheme, host and port); `null` is refused; a request with no Origin header
 * (not a browser) is not checked; the development default is the server's own origin.
 *
 * Browsers serialize an Origin per RFC 6454 §6.2 (lowercase scheme and host, default port omitted) and send one
 * Origin header (RFC 6454 §7.3), so the server may compare the header byte for byte. These tests assert that strict
 * reading: a value no browser would send for the allowed origin (uppercase host, explicit port, trailing slash,
 * userinfo, a list) is refused. Setting: ALLOWED_ORIGINS.
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
  [strictUser, devUser, looseUser] = await Promise.all([
    registerUser(strict.url, 'origin'),
    registerUser(dev.url, 'origin-dev'),
    registerUser(loose.url, 'origin-loose'),
  ]);
});
afterAll(async () => {
  await Promise.all([strict?.close(), dev?.close(), loose?.close()]);
});

/** 'open' when the upgrade succeeded (the socket is closed again), else the refusal's HTTP status. */
async function attempt(
  app: TestApp,
  token: string,
  origin: string | undefined,
  viaTicket = false,
): Promise<number | 'open'> {
  const headers: Record<string, string> = origin === undefined ? {} : { origin };
  let url = wsUrl(app.url);
  if (viaTicket) {
    const res = await fetch(`${app.url}/ws/ticket`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    url = ((await res.json()) as { url: string }).url;
  } else {
    headers.authorization = `Bearer ${token}`;
  }
  return TestSocket.open(url, { headers }).then(
    (ws) => (ws.close(), 'open' as const),
    (err: Error & { status?: number }) => err.status ?? Promise.reject(err),
  );
}

/** A raw upgrade with the given extra header lines (repeats allowed): the status line's code. */
async function rawStatus(app: TestApp, token: string, lines: string[] | Buffer): Promise<number> {
  const head = upgradeHead(app.port, token);
  const raw = await RawClient.connect(app.port);
  try {
    raw.socket.write(
      Buffer.isBuffer(lines)
        ? Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n`, 'latin1'), lines, Buffer.from('\r\n')])
        : `${[...head, ...lines].join('\r\n')}\r\n\r\n`,
    );
    return (await raw.response()).status;
  } finally {
    raw.destroy();
  }
}

describe('cross-site WebSocket hijacking: ALLOWED_ORIGINS=https://app.example.com,https://admin.example.com', () => {
  it('[CWE-1385] each listed origin may open a socket (header and ticket auth)', async () => {
    expect(await attempt(strict, strictUser.accessToken, 'https://app.example.com')).toBe('open');
    expect(await attempt(strict, strictUser.accessToken, 'https://admin.example.com')).toBe('open');
    expect(await attempt(strict, strictUser.accessToken, 'https://app.example.com', true)).toBe('open');
  });

  it('[CWE-1385] a look-alike host (suffix, prefix, subdomain) is refused 403', async () => {
    for (const origin of [
      'https://app.example.com.evil.com',
      'https://evilapp.example.com',
      'https://x.app.example.com',
      'https://example.com',
      'https://app.example.co',
    ]) {
      expect(await attempt(strict, strictUser.accessToken, origin), origin).toBe(403);
    }
  });

  it('[CONTRACT WS Origin] the scheme must match exactly (http:// and wss:// are refused 403)', async () => {
    for (const origin of ['http://app.example.com', 'wss://app.example.com', 'ws://app.example.com']) {
      expect(await attempt(strict, strictUser.accessToken, origin), origin).toBe(403);
    }
  });

  it('[CONTRACT WS Origin] the port must match exactly (https://app.example.com:8443 is refused 403)', async () => {
    expect(await attempt(strict, strictUser.accessToken, 'https://app.example.com:8443')).toBe(403);
  });

  it('[CONTRACT WS Origin / RFC 6454 §7.3] Origin "null" (sandboxed iframes, file:, data:) is refused 403', async () => {
    expect(await attempt(strict, strictUser.accessToken, 'null')).toBe(403);
    expect(await attempt(strict, strictUser.accessToken, 'null', true)).toBe(403);
  });

  it('[RFC 6454 §6.2] non-serialized forms of the allowed origin (uppercase host, trailing slash, list, empty) are refused 403', async () => {
    for (const origin of [
      'https://APP.example.com',
      'https://app.example.com/',
      'https://app.example.com, https://evil.com',
      'https://evil.com https://app.example.com',
      '',
      '*',
    ]) {
      expect(await attempt(strict, strictUser.accessToken, origin), JSON.stringify(origin)).toBe(403);
    }
  });

  it('[RFC 6454 §6.2 / CWE-1385] userinfo, path, query, fragment, explicit default port and trailing-dot forms of the allowed origin are refused 403', async () => {
    const tricks = [
      'https://user@app.example.com',
      'https://user:pass@app.example.com',
      'https://app.example.com@evil.com',
      'https://app.example.com/chat',
      'https://app.example.com?x=1',
      'https://app.example.com#x',
      'https://app.example.com:443',
      'https://app.example.com.',
      'https://app.example.com%2eevil.com',
      'https://app.example.com\\@evil.com',
    ];
    for (const origin of tricks) expect(await attempt(strict, strictUser.accessToken, origin), origin).toBe(403);
  });

  it('[RFC 6454 §7.3 / CWE-1385] two Origin headers (raw TCP) are refused 403, even when both carry the allowed origin or it comes last', async () => {
    const allowed = 'Origin: https://app.example.com';
    expect(await rawStatus(strict, strictUser.accessToken, [allowed]), 'control: one allowed Origin').toBe(101);
    expect(await rawStatus(strict, strictUser.accessToken, ['Origin: https://evil.example.com', allowed])).toBe(403);
    expect(await rawStatus(strict, strictUser.accessToken, [allowed, 'Origin: https://evil.example.com'])).toBe(403);
    expect(await rawStatus(strict, strictUser.accessToken, [allowed, allowed])).toBe(403);
    expect(await rawStatus(strict, strictUser.accessToken, ['Origin: null', allowed])).toBe(403);
  });

  it('[CWE-1385] a homograph of the allowed host in raw non-ASCII bytes (UTF-8 Cyrillic "а", Latin-1 "ä") is refused 403', async () => {
    expect(
      await rawStatus(strict, strictUser.accessToken, Buffer.from('Origin: https://\u0430pp.example.com\r\n', 'utf8')),
    ).toBe(403);
    expect(
      await rawStatus(
        strict,
        strictUser.accessToken,
        Buffer.from('Origin: https://\u00e4pp.example.com\r\n', 'latin1'),
      ),
    ).toBe(403);
    expect(await rawStatus(strict, strictUser.accessToken, ['Origin: https://xn--pp-8cd.example.com'])).toBe(403);
  });

  it('[OWASP WebSocket Security Cheat Sheet / CWE-1385] the Origin is checked whatever the credential: 403 with the bearer.<jwt> subprotocol, and 403 (not 401) with none at all', async () => {
    const evil = 'https://evil.example.com';
    const viaSubprotocol = await upgrade(strict, {
      origin: evil,
      'sec-websocket-protocol': `agentgate.v1, bearer.${strictUser.accessToken}`,
    });
    expect(viaSubprotocol.status).toBe(403);
    expect(viaSubprotocol.code).toBe('origin_not_allowed');
    expect(viaSubprotocol.socket).toBeUndefined();
    const anonymous = await upgrade(strict, { origin: evil });
    expect(anonymous.status).toBe(403);
    expect(anonymous.code).toBe('origin_not_allowed');
    const garbage = await upgrade(strict, { origin: evil, authorization: 'Bearer not-a-token' });
    expect(garbage.status, 'a foreign page learns nothing about the credential').toBe(403);
  });

  it('[CONTRACT WS Origin] a request with no Origin header (not a browser) is not checked', async () => {
    expect(await attempt(strict, strictUser.accessToken, undefined)).toBe('open');
    expect(await attempt(strict, strictUser.accessToken, undefined, true)).toBe('open');
  });

  it('[CONTRACT Errors] the 403 is a plain HTTP response with an error body and no WebSocket', async () => {
    const res = await rawHttp(
      strict.port,
      `${[...upgradeHead(strict.port, strictUser.accessToken), 'Origin: https://evil.example.com'].join('\r\n')}\r\n\r\n`,
    );
    expect(res.head).toMatch(/^HTTP\/1\.1 403 /);
    expect(res.head).not.toMatch(/101 Switching Protocols/i);
    expect(res.headers['sec-websocket-accept']).toBeUndefined();
    const body = JSON.parse(res.body) as { error: { code: string; message: string } };
    expect(body.error.code).toMatch(/^[a-z][a-z_]*$/);
    expect(body.error.code).toBe('origin_not_allowed');
    expect(body.error.message).toEqual(expect.any(String));
  });
});

describe('cross-site WebSocket hijacking: development default (no ALLOWED_ORIGINS)', () => {
  it("[CONTRACT WS Origin] the server's own origin is allowed", async () => {
    expect(await attempt(dev, devUser.accessToken, dev.url)).toBe('open');
    expect(await attempt(dev, devUser.accessToken, dev.url, true)).toBe('open');
    expect(await attempt(dev, devUser.accessToken, undefined)).toBe('open');
  });

  it('[CWE-1385] a foreign origin, or the same host on another port or scheme, is refused 403', async () => {
    const other = dev.port === 65535 ? dev.port - 1 : dev.port + 1;
    for (const origin of [
      'https://evil.example.com',
      `http://127.0.0.1:${other}`,
      `https://127.0.0.1:${dev.port}`,
      'null',
    ]) {
      expect(await attempt(dev, devUser.accessToken, origin), origin).toBe(403);
    }
  });

  it('[CWE-1385 / RFC 6455 §10.2] DNS rebinding: a page under another name on the same port (it resolves to 127.0.0.1) is refused 403', async () => {
    for (const origin of [
      `http://evil.example.com:${dev.port}`,
      `http://localhost.evil.example.com:${dev.port}`,
      `http://127.0.0.1.nip.io:${dev.port}`,
      `http://[::ffff:127.0.0.1]:${dev.port}`,
    ]) {
      expect(await attempt(dev, devUser.accessToken, origin), origin).toBe(403);
    }
    expect(
      await attempt(dev, devUser.accessToken, `http://localhost:${dev.port}`),
      'localhost is this server too',
    ).toBe('open');
  });
});

describe('cross-site WebSocket hijacking: ALLOWED_ORIGINS written loosely by an operator', () => {
  it("[CONFIG ALLOWED_ORIGINS] an entry is compared as an origin (https://APP.Example.com:443/ allows the browser's https://app.example.com)", async () => {
    expect(await attempt(loose, looseUser.accessToken, 'https://app.example.com')).toBe('open');
    expect(await attempt(loose, looseUser.accessToken, 'http://app.example.com')).toBe(403);
    expect(await attempt(loose, looseUser.accessToken, 'https://app.example.com.evil.com')).toBe(403);
  });
});
