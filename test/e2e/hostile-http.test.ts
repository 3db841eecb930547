import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, request, type TestApp } from '../../src/testing/index.js';

/**
 * Hostile HTTP requests (CONTRACT "Errors" and "HTTP API"): whatever the body, content type, path, method or
 * credential, the server never answers 5xx, and every error body is `{"error": {"code": <snake_case>, "message":
 * <string>}}`. fast-check prints the seed on failure; rerun with FC_SEED=<seed> (and FC_PATH=<path>).
 */

const FC_OPTIONS = {
  ...(process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) }),
  ...(process.env.FC_PATH === undefined ? {} : { path: process.env.FC_PATH }),
};

let app: TestApp;
let accessToken: string;
let refreshToken: string;
let bodyLimit = 65_536;
beforeAll(async () => {
  // Rate limits are lifted: every request must reach validation.
  app = await createTestApp({ LOGIN_ATTEMPTS_PER_MINUTE: '100000', REFRESH_ATTEMPTS_PER_MINUTE: '100000', TICKETS_PER_MINUTE: '100000' });
  bodyLimit = app.config.httpBodyLimitBytes;
  const user = await registerUser(app.url, 'hostile-http');
  accessToken = user.accessToken;
  refreshToken = user.refreshToken;
});
afterAll(async () => {
  await app?.close();
});

// ---------------------------------------------------------------------------------------------------------------

interface Sent {
  method: string;
  path: string;
  /** Headers as generated; `authorization: "valid"` / `"refresh"` stand for the user's real tokens (kept out of failure reports). */
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

interface Answer {
  status: number;
  contentType: string | null;
  text: string;
}

async function send(req: Sent): Promise<Answer> {
  const headers = { ...req.headers };
  if (headers.authorization === 'valid') headers.authorization = `Bearer ${accessToken}`;
  else if (headers.authorization === 'refresh') headers.authorization = `Bearer ${refreshToken}`;
  const res = await fetch(app.url + req.path, {
    method: req.method,
    headers,
    ...(req.body === undefined ? {} : { body: req.body }),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
}

/** What is wrong with an answer, or undefined. */
function problemWith(req: Sent, res: Answer): string | undefined {
  if (res.status >= 500) return `status ${res.status}: ${res.text.slice(0, 300)}`;
  if (res.status < 400 || req.method === 'HEAD') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    return `status ${res.status} with a body that is not JSON: ${JSON.stringify(res.text.slice(0, 200))}`;
  }
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error !== 'object' || error === null) return `status ${res.status}: error body without an "error" object: ${res.text.slice(0, 300)}`;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || !/^[a-z_]+$/.test(code)) return `status ${res.status}: error.code ${JSON.stringify(code)} is not stable snake_case: ${res.text.slice(0, 300)}`;
  if (typeof message !== 'string') return `status ${res.status}: error.message is not a string: ${res.text.slice(0, 300)}`;
  return undefined;
}

function describeRequest(req: Sent): string {
  const body = req.body === undefined ? '' : typeof req.body === 'string' ? JSON.stringify(req.body.slice(0, 200)) + (req.body.length > 200 ? `…(${req.body.length} chars)` : '') : `<${req.body.length} bytes>`;
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v]));
  return `${req.method} ${req.path.slice(0, 300)} ${JSON.stringify(headers)} ${body}`;
}

async function check(req: Sent): Promise<void> {
  const res = await send(req);
  const problem = problemWith(req, res);
  if (problem !== undefined) throw new Error(`${problem}\n  request: ${describeRequest(req)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Generators.

const POST_ENDPOINTS = ['/auth/register', '/auth/login', '/auth/refresh', '/auth/logout', '/ws/ticket'] as const;
const FIELDS = ['email', 'password', 'displayName', 'refreshToken', 'ttlSeconds', 'role', 'isAdmin', '__proto__', 'constructor'];

const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, true, 0, -0, -1, 1.5, 1e308, -1e308, 3600, 3601, 0.5, '', ' ', 'a@b.c', 'A@B.C ', 'x'.repeat(1025), 'correct horse battery', '1e308', 'NaN', [], {}, { $ne: null }),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.emailAddress(),
);

/** A body as text: JSON of odd shapes, objects with the right keys and wrong values, huge strings, or not JSON. */
const bodyText: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'), weight: 3 },
  { arbitrary: fc.dictionary(fc.constantFrom(...FIELDS), oddValue, { maxKeys: 5 }).map((o) => JSON.stringify(o)), weight: 4 },
  {
    arbitrary: fc
      .record({ field: fc.constantFrom(...FIELDS), size: fc.integer({ min: 1_000, max: 70_000 }), char: fc.constantFrom('a', 'é', '😀', '\\u0000', '"') })
      .map(({ field, size, char }) => {
        const unit = char === '"' ? '\\"' : char;
        return `{${JSON.stringify(field)}:"${unit.repeat(Math.max(1, Math.floor(size / Buffer.byteLength(unit))))}"}`;
      }),
    weight: 1,
  },
  { arbitrary: fc.integer({ min: bodyLimit - 50, max: bodyLimit + 50 }).map((n) => `{"email":"${'a'.repeat(Math.max(0, n - 12))}"}`), weight: 1 },
  { arbitrary: fc.constantFrom('', ' ', '{', '{"email":', 'null', 'undefined', '{"email":"a@b.c",}', "{'email':'a'}", '\uFEFF{}', '[]', '"string"', '0', '{"a":1}{"b":2}', '{"__proto__":{"isAdmin":true}}', '['.repeat(5_000) + ']'.repeat(5_000), '{"a":'.repeat(3_000) + '1' + '}'.repeat(3_000)), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 300 }), weight: 1 },
);

const contentType = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 6 },
  {
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'APPLICATION/JSON',
      'application/json;;',
      'application/jsonx',
      'application/vnd.api+json',
      'text/plain',
      'text/html',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/octet-stream',
      '*/*',
      'json',
      '',
      ';',
    ),
    weight: 4,
  },
  { arbitrary: fc.constant(undefined), weight: 1 },
);

const authorization = fc.oneof(
  { arbitrary: fc.constant('valid'), weight: 4 },
  { arbitrary: fc.constant(undefined), weight: 2 },
  {
    arbitrary: fc.oneof(
      fc.constantFrom('Bearer', 'Bearer ', 'bearer x', 'Basic dXNlcjpwYXNz', 'Bearer a.b.c', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'Token x', 'refresh'),
      fc.string({ maxLength: 100 }).map((s) => `Bearer ${s}`),
      fc.string({ unit: 'binary-ascii', maxLength: 100 }),
    ),
    weight: 2,
  },
);

/** Only characters fetch lets through in a header value (no CR, LF or NUL; Latin-1 at most). */
const headerSafe = (v: string): string => v.replace(/[^\x20-\x7e]/g, '');

function headersOf(auth: string | undefined, type: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (type !== undefined) headers['content-type'] = type;
  if (auth === 'valid' || auth === 'refresh') headers.authorization = auth;
  else if (auth !== undefined) headers.authorization = headerSafe(auth);
  return headers;
}

const postRequest: fc.Arbitrary<Sent> = fc
  .record({
    path: fc.constantFrom(...POST_ENDPOINTS),
    body: fc.oneof({ arbitrary: bodyText, weight: 8 }, { arbitrary: fc.uint8Array({ maxLength: 200 }), weight: 1 }, { arbitrary: fc.constant(undefined), weight: 1 }),
    type: contentType,
    auth: authorization,
  })
  .map(({ path, body, type, auth }) => ({ method: 'POST', path, headers: headersOf(auth, type), ...(body === undefined ? {} : { body }) }));

/** Path segments: ids, odd characters, percent-encoding (valid and broken), dot segments, long ones. */
const segment = fc.oneof(
  { arbitrary: fc.webSegment(), weight: 4 },
  { arbitrary: fc.string({ maxLength: 20 }).map(encodeURIComponent), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 10 }).map(encodeURIComponent), weight: 1 },
  { arbitrary: fc.constantFrom('%', '%z', '%zz', '%00', '%2F', '%C0%AF', '%E2%82', '%ff', '..', '.', '%2e%2e', '~', '*', ';a=b', '__proto__', 'constructor', 'null', '-1', '1e308'), weight: 2 },
  { arbitrary: fc.integer({ min: 90, max: 2_000 }).map((n) => 'a'.repeat(n)), weight: 1 },
);

const KNOWN_PATHS = ['/auth/register', '/auth/login', '/auth/refresh', '/auth/logout', '/auth/demo', '/auth/me', '/auth/stats', '/ws/ticket', '/ws/health', '/ws/config', '/ws', '/threads', '/health/live', '/health/ready', '/metrics', '/.well-known/jwks.json', '/agui'];
const TEMPLATES = ['/threads/:id/messages', '/threads/:id', '/runs/:id/events', '/runs/:id/cancel', '/runs/:id/stream', '/runs/:id'];

const pathArb: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...KNOWN_PATHS), weight: 3 },
  { arbitrary: fc.record({ t: fc.constantFrom(...TEMPLATES), id: segment }).map(({ t, id }) => t.replace(':id', id)), weight: 4 },
  { arbitrary: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`), weight: 3 },
  { arbitrary: fc.record({ p: fc.constantFrom(...KNOWN_PATHS), extra: fc.constantFrom('/', '//', '/..', '/./', '?', '#x', '/%2e%2e/auth/me') }).map(({ p, extra }) => p + extra), weight: 1 },
);

const queryArb: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constant(''), weight: 4 },
  {
    arbitrary: fc
      .dictionary(fc.constantFrom('after', 'format', 'ticket', 'token', 'access_token', 'a', '__proto__', 'after[]'), fc.oneof(fc.constantFrom('', '-1', '1e308', 'NaN', 'abc', '0', '9007199254740993', 'agui', '%zz'), fc.string({ maxLength: 20 }).map(encodeURIComponent)), { maxKeys: 3 })
      .map((q) => `?${Object.entries(q).map(([k, v]) => `${k}=${v}`).join('&')}`),
    weight: 2,
  },
);

const methodArb = fc.oneof(
  { arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'), weight: 8 },
  { arbitrary: fc.constantFrom('PROPFIND', 'SEARCH', 'PURGE', 'LOCK', 'MKCOL', 'REPORT', 'QUERY'), weight: 1 },
);

const anyRequest: fc.Arbitrary<Sent> = fc
  .record({ method: methodArb, path: pathArb, query: queryArb, body: fc.option(bodyText, { nil: undefined }), type: contentType, auth: authorization })
  .map(({ method, path, query, body, type, auth }) => ({
    method,
    path: path + query,
    headers: headersOf(auth, body === undefined ? undefined : type),
    ...(body === undefined || method === 'GET' || method === 'HEAD' ? {} : { body }),
  }));

// ---------------------------------------------------------------------------------------------------------------

describe('hostile HTTP requests (CONTRACT Errors / HTTP API)', () => {
  it('property: any body and content type to POST /auth/register, /auth/login, /auth/refresh, /auth/logout and /ws/ticket: no 5xx, well-formed errors', async () => {
    await fc.assert(
      fc.asyncProperty(postRequest, async (req) => {
        await check(req);
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 200), ...FC_OPTIONS },
    );
  }, 60_000);

  it('property: any method, path and query, with or without credentials: no 5xx, well-formed errors', async () => {
    await fc.assert(
      fc.asyncProperty(anyRequest, async (req) => {
        await check(req);
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 200), ...FC_OPTIONS },
    );
  }, 60_000);

  it('a percent-encoding that does not decode (/runs/%zz/events) is a well-formed 400 or 404', async () => {
    for (const path of ['/runs/%zz/events', '/threads/%E2%82/messages', '/%', '/auth/%ff']) {
      const req: Sent = { method: 'GET', path, headers: { authorization: 'valid' } };
      const res = await send(req);
      expect(problemWith(req, res), path).toBeUndefined();
      expect([400, 404], path).toContain(res.status);
    }
  });

  it('an id longer than the router allows (/runs/<500 chars>/events) is a well-formed 4xx', async () => {
    const req: Sent = { method: 'GET', path: `/runs/${'a'.repeat(500)}/events`, headers: { authorization: 'valid' } };
    const res = await send(req);
    expect(problemWith(req, res)).toBeUndefined();
    expect(res.status).toBeGreaterThanOrEqual(400);
  });

  it('headers over the server limit (a 20 kB bearer token, a 20 kB path) get a well-formed 4xx', async () => {
    const oversized: Sent[] = [
      { method: 'GET', path: '/auth/me', headers: { authorization: `Bearer ${'x'.repeat(20_000)}` } },
      { method: 'POST', path: '/auth/login', headers: { 'content-type': 'application/json', 'x-pad': 'y'.repeat(20_000) }, body: '{}' },
      { method: 'GET', path: `/${'a'.repeat(20_000)}`, headers: {} },
    ];
    for (const req of oversized) {
      const res = await send(req);
      expect(problemWith(req, res), describeRequest(req)).toBeUndefined();
    }
  });

  it('malformed HTTP framing (raw TCP) gets a well-formed 400, not a bare or differently shaped body', async () => {
    const raw = (text: string): Promise<string> =>
      new Promise((resolve) => {
        const socket = connect(app.port, '127.0.0.1');
        let out = '';
        socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
        socket.on('close', () => resolve(out));
        socket.on('error', () => resolve(out));
        socket.write(text);
        setTimeout(() => socket.destroy(), 2_000).unref();
      });
    for (const text of [
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n',
      'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
      'GARBAGE\r\n\r\n',
      'GET /auth/me HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n',
    ]) {
      const out = await raw(text);
      const [head = '', ...rest] = out.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
      const res: Answer = { status, contentType: null, text: rest.join('\r\n\r\n') };
      expect(problemWith({ method: 'GET', path: '/', headers: {} }, res), JSON.stringify(text)).toBeUndefined();
    }
  });

  it('after the barrage the server still serves: the fuzzed user can still use its tokens, a new user can register', async () => {
    const me = await request(app.url, 'GET', '/auth/me', { token: accessToken });
    expect(me.status).toBe(200);
    const fresh = await registerUser(app.url, 'after-http');
    expect(fresh.accessToken).toEqual(expect.any(String));
  });
});
