import fc from 'fast-check';

/**
 * fast-check arbitraries for hostile HTTP requests (test/attacks/oversized-bodies.test.ts): bodies of odd shapes and
 * sizes (around the default HTTP_BODY_LIMIT_BYTES too), content types, credentials, methods, paths and queries.
 */

/** HTTP_BODY_LIMIT_BYTES by default: generated bodies cluster around it. */
const DEFAULT_BODY_LIMIT = 65_536;

export interface Sent {
  method: string;
  path: string;
  /** Headers as generated; `authorization: "valid"` / `"refresh"` stand for the user's real tokens (kept out of failure reports). */
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

const POST_ENDPOINTS = ['/auth/register', '/auth/login', '/auth/refresh', '/auth/logout', '/ws/ticket'] as const;
const FIELDS = [
  'email',
  'password',
  'displayName',
  'refreshToken',
  'ttlSeconds',
  'role',
  'isAdmin',
  '__proto__',
  'constructor',
];

const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    null,
    true,
    0,
    -0,
    -1,
    1.5,
    1e308,
    -1e308,
    3600,
    3601,
    0.5,
    '',
    ' ',
    'a@b.c',
    'A@B.C ',
    'x'.repeat(1025),
    'correct horse battery',
    '1e308',
    'NaN',
    [],
    {},
    { $ne: null },
  ),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.emailAddress(),
);

/** A body as text: JSON of odd shapes, objects with the right keys and wrong values, huge strings, or not JSON. */
const bodyText: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'), weight: 3 },
  {
    arbitrary: fc.dictionary(fc.constantFrom(...FIELDS), oddValue, { maxKeys: 5 }).map((o) => JSON.stringify(o)),
    weight: 4,
  },
  {
    arbitrary: fc
      .record({
        field: fc.constantFrom(...FIELDS),
        size: fc.integer({ min: 1_000, max: 70_000 }),
        char: fc.constantFrom('a', 'é', '😀', '\\u0000', '"'),
      })
      .map(({ field, size, char }) => {
        const unit = char === '"' ? '\\"' : char;
        return `{${JSON.stringify(field)}:"${unit.repeat(Math.max(1, Math.floor(size / Buffer.byteLength(unit))))}"}`;
      }),
    weight: 1,
  },
  {
    arbitrary: fc
      .integer({ min: DEFAULT_BODY_LIMIT - 50, max: DEFAULT_BODY_LIMIT + 50 })
      .map((n) => `{"email":"${'a'.repeat(Math.max(0, n - 12))}"}`),
    weight: 1,
  },
  {
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '{',
      '{"email":',
      'null',
      'undefined',
      '{"email":"a@b.c",}',
      "{'email':'a'}",
      '\uFEFF{}',
      '[]',
      '"string"',
      '0',
      '{"a":1}{"b":2}',
      '{"__proto__":{"isAdmin":true}}',
      '['.repeat(5_000) + ']'.repeat(5_000),
      '{"a":'.repeat(3_000) + '1' + '}'.repeat(3_000),
    ),
    weight: 2,
  },
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
      fc.constantFrom(
        'Bearer',
        'Bearer ',
        'bearer x',
        'Basic dXNlcjpwYXNz',
        'Bearer a.b.c',
        'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
        'Token x',
        'refresh',
      ),
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

export const postRequest: fc.Arbitrary<Sent> = fc
  .record({
    path: fc.constantFrom(...POST_ENDPOINTS),
    body: fc.oneof(
      { arbitrary: bodyText, weight: 8 },
      { arbitrary: fc.uint8Array({ maxLength: 200 }), weight: 1 },
      { arbitrary: fc.constant(undefined), weight: 1 },
    ),
    type: contentType,
    auth: authorization,
  })
  .map(({ path, body, type, auth }) => ({
    method: 'POST',
    path,
    headers: headersOf(auth, type),
    ...(body === undefined ? {} : { body }),
  }));

/** Path segments: ids, odd characters, percent-encoding (valid and broken), dot segments, long ones. */
const segment = fc.oneof(
  { arbitrary: fc.webSegment(), weight: 4 },
  { arbitrary: fc.string({ maxLength: 20 }).map(encodeURIComponent), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 10 }).map(encodeURIComponent), weight: 1 },
  {
    arbitrary: fc.constantFrom(
      '%',
      '%z',
      '%zz',
      '%00',
      '%2F',
      '%C0%AF',
      '%E2%82',
      '%ff',
      '..',
      '.',
      '%2e%2e',
      '~',
      '*',
      ';a=b',
      '__proto__',
      'constructor',
      'null',
      '-1',
      '1e308',
    ),
    weight: 2,
  },
  { arbitrary: fc.integer({ min: 90, max: 2_000 }).map((n) => 'a'.repeat(n)), weight: 1 },
);

const KNOWN_PATHS = [
  '/auth/register',
  '/auth/login',
  '/auth/refresh',
  '/auth/logout',
  '/auth/demo',
  '/auth/me',
  '/auth/stats',
  '/ws/ticket',
  '/ws/health',
  '/ws/config',
  '/ws',
  '/threads',
  '/health/live',
  '/health/ready',
  '/metrics',
  '/.well-known/jwks.json',
  '/agui',
];
const TEMPLATES = [
  '/threads/:id/messages',
  '/threads/:id',
  '/runs/:id/events',
  '/runs/:id/cancel',
  '/runs/:id/stream',
  '/runs/:id',
];

const pathArb: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...KNOWN_PATHS), weight: 3 },
  {
    arbitrary: fc.record({ t: fc.constantFrom(...TEMPLATES), id: segment }).map(({ t, id }) => t.replace(':id', id)),
    weight: 4,
  },
  { arbitrary: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`), weight: 3 },
  {
    arbitrary: fc
      .record({
        p: fc.constantFrom(...KNOWN_PATHS),
        extra: fc.constantFrom('/', '//', '/..', '/./', '?', '#x', '/%2e%2e/auth/me'),
      })
      .map(({ p, extra }) => p + extra),
    weight: 1,
  },
);

const queryArb: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constant(''), weight: 4 },
  {
    arbitrary: fc
      .dictionary(
        fc.constantFrom('after', 'format', 'ticket', 'token', 'access_token', 'a', '__proto__', 'after[]'),
        fc.oneof(
          fc.constantFrom('', '-1', '1e308', 'NaN', 'abc', '0', '9007199254740993', 'agui', '%zz'),
          fc.string({ maxLength: 20 }).map(encodeURIComponent),
        ),
        { maxKeys: 3 },
      )
      .map(
        (q) =>
          `?${Object.entries(q)
            .map(([k, v]) => `${k}=${v}`)
            .join('&')}`,
      ),
    weight: 2,
  },
);

const methodArb = fc.oneof(
  { arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'), weight: 8 },
  { arbitrary: fc.constantFrom('PROPFIND', 'SEARCH', 'PURGE', 'LOCK', 'MKCOL', 'REPORT', 'QUERY'), weight: 1 },
);

export const anyRequest: fc.Arbitrary<Sent> = fc
  .record({
    method: methodArb,
    path: pathArb,
    query: queryArb,
    body: fc.option(bodyText, { nil: undefined }),
    type: contentType,
    auth: authorization,
  })
  .map(({ method, path, query, body, type, auth }) => ({
    method,
    path: path + query,
    headers: headersOf(auth, body === undefined ? undefined : type),
    ...(body === undefined || method === 'GET' || method === 'HEAD' ? {} : { body }),
  }));
