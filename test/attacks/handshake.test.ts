import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';
import { useTestApp } from '../e2e/helpers/runs.js';
import { sessionStoreFault } from './helpers/wire-faults.js';
import { openRaw, RawClient, upgradeHead, type HttpHead } from './helpers/wire-raw.js';

/**
 * The opening handshake (RFC 6455 §4; CONTRACT "WebSocket: GET /ws"; advisories of `ws`), seen from a raw TCP
 * socket: malformed handshakes get a plain HTTP 400 in the contract error shape, a wrong Sec-WebSocket-Version a 426
 * naming 13, the subprotocol answer is exactly `agentgate.v1` and never echoes the token, permessage-deflate is not
 * negotiated, the handshake rate per IP answers 429 with Retry-After, and an auth store outage is 503, never a pass.
 * Settings: HANDSHAKES_PER_MINUTE, ALLOWED_ORIGINS.
 */

let app: TestApp;
let token: string;
beforeAll(async () => {
  app = await createTestApp();
  token = (await registerUser(app.url, 'handshake')).accessToken;
});
afterAll(async () => {
  await app?.close();
});

type Refusal = HttpHead & { body: { error: { code: string; message: string } } };

/** A refused handshake: a plain HTTP response (never 101, no Sec-WebSocket-Accept) with a JSON error body. */
async function refusal(head: string[], port = app.port): Promise<Refusal> {
  const raw = await RawClient.request(port, head);
  try {
    const res = await raw.response();
    expect(res.head).not.toMatch(/^HTTP\/1\.1 101/);
    expect(res.headers['sec-websocket-accept']).toBeUndefined();
    const rest = (await raw.body(res.headers['content-length'])).toString('utf8');
    return { ...res, body: JSON.parse(rest) as Refusal['body'] };
  } finally {
    raw.destroy();
  }
}

/** The response head of one raw handshake (the connection is closed afterwards). */
async function answer(head: string[] | string): Promise<HttpHead> {
  const raw = await RawClient.connect(app.port);
  try {
    raw.socket.write(typeof head === 'string' ? head : `${head.join('\r\n')}\r\n\r\n`);
    return await raw.response();
  } finally {
    raw.destroy();
  }
}

const head = (overrides: Record<string, string | undefined> = {}, requestLine?: string): string[] =>
  upgradeHead(app.port, token, overrides, requestLine);

describe('handshake: malformed requests are plain HTTP refusals (RFC 6455 §4.2.1)', () => {
  it('[RFC 6455 §4.2.1] a missing Sec-WebSocket-Key is 400', async () => {
    const res = await refusal(head({ 'Sec-WebSocket-Key': undefined }));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('[RFC 6455 §4.2.1] a Sec-WebSocket-Key that is not 16 base64 bytes is 400', async () => {
    for (const key of [
      'abc',
      'not base64 at all!!',
      randomBytes(20).toString('base64'),
      randomBytes(8).toString('base64'),
    ]) {
      const res = await refusal(head({ 'Sec-WebSocket-Key': key }));
      expect(res.status, key).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });

  it('[RFC 6455 §4.2.1] two Sec-WebSocket-Key headers are 400', async () => {
    const res = await refusal([...head(), `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`]);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('[RFC 6455 §4.2.1] a missing Sec-WebSocket-Version, a wrong Upgrade or a Connection without Upgrade is 400', async () => {
    for (const bad of [
      { 'Sec-WebSocket-Version': undefined },
      { Upgrade: 'websocketx' },
      { Connection: 'keep-alive' },
    ]) {
      const res = await refusal(head(bad));
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });

  it('[RFC 6455 §4.2.1] an upgrade that is not a GET is 400', async () => {
    const res = await refusal(head({ 'Content-Length': '0' }, 'POST /ws HTTP/1.1'));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('[CONTRACT WS] an upgrade on another path (/nope) is 404', async () => {
    const res = await refusal(head({}, 'GET /nope HTTP/1.1'));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it('[RFC 6455 §4.2.1] the Upgrade token and the Connection option are case-insensitive: "WebSocket" and "keep-alive, Upgrade" are accepted', async () => {
    const res = await answer(head({ Upgrade: 'WebSocket', Connection: 'keep-alive, Upgrade' }));
    expect(res.status).toBe(101);
  });

  // RFC 6455 §4.2.1 item 1: "an HTTP/1.1 or higher GET request".
  it('[RFC 6455 §4.2.1] an HTTP/1.0 handshake is 400', async () => {
    const res = await refusal(head({}, 'GET /ws HTTP/1.0'));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  // RFC 6455 §4.2.1 item 2 (node's own requireHostHeader check does not run for upgrades).
  it('[RFC 6455 §4.2.1] a handshake without Host is 400', async () => {
    const res = await refusal(head({ Host: undefined }));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  // Refused by checkHandshake, before the credential is checked or a slot taken (ws itself would answer text/html).
  it('[RFC 6455 §4.2.1 / CONTRACT Errors] a malformed Sec-WebSocket-Protocol (empty entry, space, duplicate) is 400 invalid_request in the error shape', async () => {
    for (const offer of ['agentgate.v1, not a token', 'agentgate.v1,,x', 'agentgate.v1, agentgate.v1']) {
      const raw = await RawClient.request(app.port, head({ 'Sec-WebSocket-Protocol': offer }));
      const res = await raw.response();
      const text = (await raw.body(res.headers['content-length'])).toString('utf8');
      raw.destroy();
      expect(res.status, offer).toBe(400);
      expect(res.headers['content-type'], offer).toMatch(/^application\/json/);
      expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
  });
});

describe('handshake: version, subprotocol and extensions (RFC 6455 §4.2.2, §4.4)', () => {
  it('[RFC 6455 §4.4] Sec-WebSocket-Version 8 is 426 with Sec-WebSocket-Version: 13', async () => {
    const res = await refusal(head({ 'Sec-WebSocket-Version': '8' }));
    expect(res.status).toBe(426);
    expect(res.headers['sec-websocket-version']).toBe('13');
  });

  it('[RFC 6455 §4.4] any other version (0, 7, 12, 14, 130, "13, 8", "abc") is 426 invalid_request naming 13', async () => {
    for (const version of ['0', '7', '12', '14', '130', '13, 8', 'abc']) {
      const res = await refusal(head({ 'Sec-WebSocket-Version': version }));
      expect(res.status, version).toBe(426);
      expect(res.headers['sec-websocket-version'], version).toBe('13');
      expect(res.body.error.code).toBe('invalid_request');
    }
  });

  it('[RFC 6455 §4.2.2] a valid upgrade is 101 with the right Sec-WebSocket-Accept', async () => {
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    const raw = await RawClient.request(app.port, head({ 'Sec-WebSocket-Key': key }));
    const res = await raw.response();
    expect(res.status).toBe(101);
    expect(res.headers['sec-websocket-accept']).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    raw.destroy();
  });

  it('[CONTRACT WS 3 / RFC 6455 §4.2.2] the bearer.<jwt> subprotocol connects and the answer is exactly agentgate.v1', async () => {
    const ws = await TestSocket.open(wsUrl(app.url), { protocols: ['agentgate.v1', `bearer.${token}`] });
    expect(ws.ws.protocol).toBe('agentgate.v1');
    expect(ws.ws.protocol).not.toContain(token);
    expect(ws.messages[0]).toMatchObject({ type: 'connection_established' });
    ws.close();
  });

  it('[CONTRACT WS 3 / RFC 6455 §4.2.2] raw bytes: whatever the offer order, the 101 carries exactly one "Sec-WebSocket-Protocol: agentgate.v1" and no part of the token; without agentgate.v1 offered, no subprotocol', async () => {
    for (const offer of [
      `agentgate.v1, bearer.${token}`,
      `bearer.${token}, agentgate.v1`,
      `bearer.${token},agentgate.v1,other.v2`,
    ]) {
      const res = await answer(upgradeHead(app.port, undefined, { 'Sec-WebSocket-Protocol': offer }));
      expect(res.status, offer.slice(0, 30)).toBe(101);
      expect(res.head.match(/^sec-websocket-protocol:.*$/gim)).toEqual(['Sec-WebSocket-Protocol: agentgate.v1']);
      expect(res.head).not.toContain(token.slice(-24));
    }
    const bare = await answer(upgradeHead(app.port, undefined, { 'Sec-WebSocket-Protocol': `bearer.${token}` }));
    expect(bare.status).toBe(101);
    expect(bare.headers['sec-websocket-protocol']).toBeUndefined();
    expect(bare.head).not.toContain(token.slice(-24));
  });

  it('[CONTRACT WS] permessage-deflate is not negotiated even when offered', async () => {
    const raw = await openRaw(app.port, token, {
      'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits',
    });
    const { frames } = await raw.expect((b) => (b.length > 0 ? { frames: [b] } : undefined), 'no first frame');
    expect(((frames[0]?.[0] ?? 0) & 0x40) === 0, 'RSV1 must not be set').toBe(true);
    raw.destroy();
    const res = await RawClient.request(app.port, head({ 'Sec-WebSocket-Extensions': 'permessage-deflate' })).then(
      (r) => r.response().finally(() => r.destroy()),
    );
    expect(res.headers['sec-websocket-extensions']).toBeUndefined();
    const ws = await TestSocket.open(wsUrl(app.url), {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: true,
    });
    expect(ws.ws.extensions).toBe('');
    ws.close();
  });
});

describe('handshake: resource exhaustion (ws advisories)', () => {
  it('[ws GHSA-6fc8-4gx4-v693 / CVE-2021-32640] a Sec-WebSocket-Protocol of 12 000 spaces is answered at once (no ReDoS); past the header limit it is 431 in the error shape', async () => {
    const started = Date.now();
    const slow = await answer(head({ 'Sec-WebSocket-Protocol': `b${' '.repeat(12_000)}x` }));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(slow.status).toBe(400);
    const raw = await RawClient.request(
      app.port,
      head({ 'Sec-WebSocket-Protocol': `agentgate.v1,${' '.repeat(30_000)}x` }),
    );
    const big = await raw.response();
    const text = (await raw.body(big.headers['content-length'])).toString('utf8');
    raw.destroy();
    expect(big.status).toBe(431);
    expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe('invalid_request');
  });

  it('[ws GHSA-3h5v-q93c-6h6q / CVE-2024-37890] an upgrade whose Upgrade/Connection/Key headers come after 2000 others (past maxHeadersCount) is a 400, and the server keeps serving', async () => {
    // Short names and empty values, as in the advisory's proof of concept: 2000 headers stay under the 16 KiB limit.
    const junk = Array.from({ length: 2_000 }, (_, i) => `${i.toString(36)}0:`);
    const [requestLine = '', ...rest] = head();
    const res = await refusal([
      requestLine,
      `Host: 127.0.0.1:${app.port}`,
      ...junk,
      ...rest.filter((l) => !l.startsWith('Host:')),
    ]);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect((await request(app.url, 'GET', '/health/live')).status).toBe(200);
    const ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${token}` } });
    expect(ws.messages[0]).toMatchObject({ type: 'connection_established' });
    ws.close();
  });
});

describe('handshake: rate per IP (HANDSHAKES_PER_MINUTE=3)', () => {
  const server = useTestApp({ HANDSHAKES_PER_MINUTE: '3', ALLOWED_ORIGINS: 'https://app.example.com' });

  it('[OWASP WebSocket Security Cheat Sheet / CWE-770] past the budget every attempt is 429 rate_limited with Retry-After, checked before the Origin and the credential', async () => {
    const user = await registerUser(server.app.url, 'handshake-rate');
    const port = server.app.port;
    const first = [
      await refusal(upgradeHead(port, user.accessToken, { Origin: 'https://evil.example.com' }), port),
      await refusal(upgradeHead(port, undefined), port),
    ];
    expect(first.map((r) => r.status)).toEqual([403, 401]);
    const ok = await openRaw(port, user.accessToken);
    ok.destroy();
    for (const attempt of [
      upgradeHead(port, user.accessToken),
      upgradeHead(port, user.accessToken, { Origin: 'https://evil.example.com' }),
      upgradeHead(port, undefined),
    ]) {
      const res = await refusal(attempt, port);
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe('rate_limited');
      const retryAfter = Number(res.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    // Malformed handshakes are refused before the budget is consulted (they cost no lookup at all).
    expect((await refusal(upgradeHead(port, user.accessToken, { 'Sec-WebSocket-Key': undefined }), port)).status).toBe(
      400,
    );
  });
});

describe('handshake: auth store down', () => {
  const fault = sessionStoreFault();
  const server = useTestApp({}, { wrapAuthStores: fault.wrap });
  afterEach(() => fault.down(false));

  it('[CONTRACT WS fail closed] the upgrade is 503 service_unavailable (plain HTTP, Connection: close) for header and subprotocol, never 401 or 101; a bad token stays 401', async () => {
    const user = await registerUser(server.app.url, 'store-down');
    const port = server.app.port;
    fault.down(true);
    for (const extra of [
      { Authorization: `Bearer ${user.accessToken}` },
      { 'Sec-WebSocket-Protocol': `agentgate.v1, bearer.${user.accessToken}` },
    ]) {
      const res = await refusal(upgradeHead(port, undefined, extra), port);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('service_unavailable');
      expect(res.headers.connection).toMatch(/close/i);
    }
    expect((await refusal(upgradeHead(port, 'not.a.jwt'), port)).status).toBe(401);
    fault.down(false);
    const raw = await openRaw(port, user.accessToken);
    raw.destroy();
  });
});
