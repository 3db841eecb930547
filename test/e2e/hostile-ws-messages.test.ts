import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  verifyRunEvents,
  type RunEvent,
  type RunEventsResponse,
  type ServerMessage,
} from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';

/**
 * Hostile text messages over one authenticated WebSocket (CONTRACT "WebSocket" and "Errors"): whatever a client
 * writes inside a well-formed text frame, every message gets exactly one answer (an `error` with a stable
 * snake_case code, or the message's normal reply), the server never answers `internal_error`, and the connection
 * stays open. Property runs are seeded: fast-check prints the seed and counterexample path on failure; rerun with
 * FC_SEED=<seed> (and FC_PATH=<path>) to reproduce.
 */

const FC_OPTIONS = {
  ...(process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) }),
  ...(process.env.FC_PATH === undefined ? {} : { path: process.env.FC_PATH }),
};

let app: TestApp;
let user: Awaited<ReturnType<typeof registerUser>>;
let ws: TestSocket;
let maxBytes = 65_536;
/** Runs and threads this user really has: some messages refer to them, the rest to ids that do not exist. */
const knownRuns: string[] = [];
const knownThreads: string[] = [];

beforeAll(async () => {
  // Message-rate limits are lifted: this suite is about what the server does with each message, not how many.
  app = await createTestApp({ WS_MESSAGES_PER_SECOND: '100000', WS_MESSAGE_BURST: '1000000' });
  user = await registerUser(app.url, 'hostile-ws');
  const config = await request<{ maxMessageBytes: number }>(app.url, 'GET', '/ws/config');
  maxBytes = config.body.maxMessageBytes;
  ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${user.accessToken}` } });
});
afterAll(async () => {
  ws?.close();
  await app?.close();
});

// ---------------------------------------------------------------------------------------------------------------
// Generators. Each yields the exact text sent and, when the generator knows it, whether the message is invalid.

interface Probe {
  /** The text frame's content. */
  text: string;
  /** `invalid`: the server must answer `invalid_message`; `any`: any stable answer will do. */
  expect: 'invalid' | 'any';
}

const KNOWN_TYPES = ['user_message', 'cancel_run', 'resume', 'ping', 'authenticate'] as const;
const SYNC_PREFIX = '\u0000hostile-sync-';

/** Odd JSON number literals, written as text so that 1e309, -0 and friends reach the server verbatim. */
const numberLiteral = fc.constantFrom(
  '1e308',
  '-1e308',
  '1e309',
  '-1e309',
  '-0',
  '0.0',
  '1e-400',
  '9007199254740993',
  '-1',
  '1.5',
  '0',
  '3',
  '1e2',
  '123456789012345678901234567890',
);
const wrongValue = fc.oneof(
  fc.constantFrom(
    'null',
    'true',
    'false',
    '[]',
    '{}',
    '""',
    '"NaN"',
    '"Infinity"',
    '"-0"',
    '"1e308"',
    '[1,2]',
    '{"$gt":""}',
  ),
  numberLiteral,
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
);
const idText = fc
  .oneof(
    { arbitrary: fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.startsWith(SYNC_PREFIX)), weight: 4 },
    { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), weight: 1 },
    { arbitrary: fc.integer({ min: 129, max: 2000 }).map((n) => 'i'.repeat(n)), weight: 1 },
  )
  .map((s) => JSON.stringify(s));

function objectText(fields: Array<[string, string]>): string {
  return `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

/** Any JSON value at all. */
const anyJson: fc.Arbitrary<Probe> = fc
  .jsonValue({ maxDepth: 6 })
  .map((v) => ({ text: JSON.stringify(v) ?? 'null', expect: 'any' }));

/** Text that is not JSON (or only almost). */
const notJson: fc.Arbitrary<Probe> = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 200 }).filter((s) => !isJson(s)),
    fc.constantFrom(
      '',
      ' ',
      '\n',
      '{',
      '}',
      '[',
      '{"type":"ping"',
      '{"type":ping}',
      "{'type':'ping'}",
      '\uFEFF{"type":"ping"}',
      'NaN',
      'undefined',
      '{"type":"ping",}',
      '{"a":1}{"b":2}',
      '\u0000',
    ),
    fc
      .jsonValue({ maxDepth: 3 })
      .map((v) => (JSON.stringify(v) ?? 'null').slice(0, -1))
      .filter((s) => !isJson(s)),
  )
  .map((text) => ({ text, expect: 'invalid' as const }));

/** A known type with fields of the wrong type or out of range. */
const nonString = wrongValue.filter((v) => !v.startsWith('"') || v === '""');
const wrongFields: fc.Arbitrary<Probe> = fc
  .oneof(
    // ping with an id that is not a 1..128 character string
    fc
      .oneof(
        nonString,
        fc.integer({ min: 129, max: 5000 }).map((n) => JSON.stringify('x'.repeat(n))),
      )
      .map((id) =>
        objectText([
          ['type', '"ping"'],
          ['id', id],
        ]),
      ),
    // user_message with a text that is not a non-blank string, or a bad onBusy / threadId
    nonString.map((text) =>
      objectText([
        ['type', '"user_message"'],
        ['text', text],
      ]),
    ),
    fc.constantFrom('""', '"   "', '"\\n\\t"').map((text) =>
      objectText([
        ['type', '"user_message"'],
        ['text', text],
      ]),
    ),
    fc
      .oneof(wrongValue, fc.constantFrom('"ENQUEUE"', '"queue"', '"__proto__"'))
      .filter((v) => !['"enqueue"', '"interrupt"', '"reject"'].includes(v))
      .map((onBusy) =>
        objectText([
          ['type', '"user_message"'],
          ['text', '"hi"'],
          ['onBusy', onBusy],
        ]),
      ),
    nonString.map((threadId) =>
      objectText([
        ['type', '"user_message"'],
        ['text', '"hi"'],
        ['threadId', threadId],
      ]),
    ),
    // cancel_run / resume with missing or wrongly typed runId or afterSeq
    nonString.map((runId) =>
      objectText([
        ['type', '"cancel_run"'],
        ['runId', runId],
      ]),
    ),
    fc.constant(objectText([['type', '"cancel_run"']])),
    fc
      .constantFrom('"1"', '"NaN"', '"Infinity"', 'null', '-1', '1.5', '1e309', '-1e309', '[0]', '{}', 'true', '-1e-7')
      .map((afterSeq) =>
        objectText([
          ['type', '"resume"'],
          ['runId', '"r"'],
          ['afterSeq', afterSeq],
        ]),
      ),
    fc.constant(
      objectText([
        ['type', '"resume"'],
        ['runId', '"r"'],
      ]),
    ),
    // authenticate without a usable token
    fc.oneof(nonString, fc.constant(JSON.stringify('t'.repeat(8193)))).map((token) =>
      objectText([
        ['type', '"authenticate"'],
        ['token', token],
      ]),
    ),
    // the type itself wrongly typed or cased
    fc
      .oneof(
        wrongValue,
        fc.constantFrom(
          '"PING"',
          '" ping"',
          '"ping "',
          '"Ping"',
          '"user-message"',
          '"__proto__"',
          '"constructor"',
          '"toString"',
          '"hasOwnProperty"',
        ),
      )
      .filter((t) => !KNOWN_TYPES.map((k) => JSON.stringify(k)).includes(t))
      .map((type) => objectText([['type', type]])),
  )
  .map((text) => ({ text, expect: 'invalid' as const }));

/** An unknown type, with random fields. */
const unknownType: fc.Arbitrary<Probe> = fc
  .record({
    type: fc.string({ maxLength: 30 }).filter((t) => !(KNOWN_TYPES as readonly string[]).includes(t)),
    rest: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  })
  .map(({ type, rest }) => ({ text: JSON.stringify({ ...rest, type }), expect: 'invalid' as const }));

/** Prototype-pollution shaped keys, around valid and invalid messages. */
const protoKeys: fc.Arbitrary<Probe> = fc
  .record({
    key: fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'hasOwnProperty',
      'valueOf',
      '__defineGetter__',
    ),
    nested: fc.constantFrom(
      '{"polluted":"yes","type":"ping"}',
      '{"prototype":{"polluted":"yes"}}',
      '{"toString":"x"}',
      'null',
      '1',
      '"x"',
      '[]',
    ),
    base: fc.constantFrom(
      '',
      '"type":"ping",',
      '"type":"user_message",',
      '"type":"resume","runId":"r","afterSeq":0,',
      '"type":"cancel_run",',
    ),
    id: fc.option(idText, { nil: undefined }),
  })
  .map(({ key, nested, base, id }) => ({
    text: `{${base}${id === undefined ? '' : `"id":${id},`}${JSON.stringify(key)}:${nested}}`,
    expect: 'any' as const,
  }));

/** Nesting thousands of levels deep, alone or inside a field of a known type. */
const deepNesting: fc.Arbitrary<Probe> = fc
  .record({
    depth: fc.integer({ min: 100, max: 30_000 }),
    shape: fc.constantFrom('array', 'object', 'unclosed'),
    place: fc.constantFrom('alone', 'ping.extra', 'user_message.text', 'resume.afterSeq', 'ping.id'),
  })
  .map(({ depth, shape, place }) => {
    const d = shape === 'object' ? Math.min(depth, 10_000) : depth;
    const deep =
      shape === 'array'
        ? '['.repeat(d) + ']'.repeat(d)
        : shape === 'object'
          ? '{"a":'.repeat(d) + '1' + '}'.repeat(d)
          : '['.repeat(d);
    const text =
      place === 'alone'
        ? deep
        : place === 'ping.extra'
          ? `{"type":"ping","id":"deep","extra":${deep}}`
          : place === 'user_message.text'
            ? `{"type":"user_message","id":"deep","text":${deep}}`
            : place === 'resume.afterSeq'
              ? `{"type":"resume","id":"deep","runId":"r","afterSeq":${deep}}`
              : `{"type":"ping","id":${deep}}`;
    // A deep value that is well formed inside a ping's extra field is ignored: that ping is valid.
    return { text, expect: shape !== 'unclosed' && place === 'ping.extra' ? ('any' as const) : ('invalid' as const) };
  });

/** Huge strings, up to the message limit. */
const huge: fc.Arbitrary<Probe> = fc
  .record({
    size: fc.integer({ min: 1_000, max: 64_000 }),
    field: fc.constantFrom(
      'user_message.text',
      'ping.id',
      'unknown.type',
      'resume.runId',
      'authenticate.token',
      'cancel_run.runId',
      'ping.pad',
    ),
    char: fc.constantFrom('x', 'é', '€', '😀', '\\n', '\\"'),
  })
  .map(({ size, field, char }) => {
    const bytesPerChar = Buffer.byteLength(char);
    const s = char.repeat(Math.max(1, Math.floor((Math.min(size, maxBytes) - 100) / bytesPerChar)));
    const text =
      field === 'user_message.text'
        ? `{"type":"user_message","id":"huge","text":"${s}"}`
        : field === 'ping.id'
          ? `{"type":"ping","id":"${s}"}`
          : field === 'unknown.type'
            ? `{"type":"${s}"}`
            : field === 'resume.runId'
              ? `{"type":"resume","id":"huge","runId":"${s}","afterSeq":0}`
              : field === 'authenticate.token'
                ? `{"type":"authenticate","id":"huge","token":"${s}"}`
                : field === 'cancel_run.runId'
                  ? `{"type":"cancel_run","id":"huge","runId":"${s}"}`
                  : `{"type":"ping","id":"huge","pad":"${s}"}`;
    const anyAnswer = field === 'user_message.text' || field === 'ping.pad' || field === 'authenticate.token';
    return { text, expect: anyAnswer ? ('any' as const) : ('invalid' as const) };
  });

/** Well-formed messages with odd but valid content: they must get their normal reply. */
const valid: fc.Arbitrary<Probe> = fc
  .oneof(
    fc
      .record({ id: fc.option(idText, { nil: undefined }) })
      .map(({ id }) => objectText([['type', '"ping"'], ...(id === undefined ? [] : [['id', id] as [string, string]])])),
    fc
      .record({
        id: fc.option(idText, { nil: undefined }),
        text: fc
          .oneof(
            fc.string({ minLength: 1, maxLength: 300 }),
            fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }),
            fc.stringMatching(/^[0-9+\-*/^%!(). e]{1,60}$/).map((e) => `calculate ${e}`),
            fc.constantFrom(
              'calculate 1e308*10',
              'calculate factorial(170)',
              'calculate 9^9^9',
              'calculate -0',
              'calculate 0/0',
              'calculate sqrt(-1)',
              'calculate 1/0',
              'what time is it in Mars/Olympus_Mons',
              'search the docs for __proto__',
              'calculate det([[1,2],[3,4]])',
              'calculate constructor',
              'calculate __proto__',
            ),
          )
          .filter((t) => t.trim().length > 0),
        thread: fc.option(fc.nat(), { nil: undefined }),
        onBusy: fc.option(fc.constantFrom('enqueue', 'interrupt', 'reject'), { nil: undefined }),
      })
      .map(({ id, text, thread, onBusy }) => {
        const fields: Array<[string, string]> = [
          ['type', '"user_message"'],
          ['text', JSON.stringify(text)],
        ];
        if (id !== undefined) fields.push(['id', id]);
        if (thread !== undefined)
          fields.push([
            'threadId',
            JSON.stringify(
              knownThreads.length > 0 && thread % 3 !== 0
                ? knownThreads[thread % knownThreads.length]
                : `no-such-thread-${thread}`,
            ),
          ]);
        if (onBusy !== undefined) fields.push(['onBusy', JSON.stringify(onBusy)]);
        return objectText(fields);
      }),
    fc
      .record({
        id: fc.option(idText, { nil: undefined }),
        run: fc.nat(),
        afterSeq: fc.oneof(fc.nat(), fc.constantFrom('-0', '1e308', '9007199254740993', '0.0', '1e2')),
      })
      .map(({ id, run, afterSeq }) =>
        objectText([
          ['type', '"resume"'],
          [
            'runId',
            JSON.stringify(
              knownRuns.length > 0 && run % 3 !== 0 ? knownRuns[run % knownRuns.length] : `no-such-run-${run}`,
            ),
          ],
          ['afterSeq', String(afterSeq)],
          ...(id === undefined ? [] : [['id', id] as [string, string]]),
        ]),
      ),
    fc
      .record({ id: fc.option(idText, { nil: undefined }), runId: fc.string({ minLength: 1, maxLength: 128 }) })
      .map(({ id, runId }) =>
        objectText([
          ['type', '"cancel_run"'],
          ['runId', JSON.stringify(`x${runId}`.slice(0, 128))],
          ...(id === undefined ? [] : [['id', id] as [string, string]]),
        ]),
      ),
    fc
      .record({
        id: fc.option(idText, { nil: undefined }),
        token: fc.oneof(
          fc.string({ minLength: 1, maxLength: 300 }),
          fc.constant('own'),
          fc.constantFrom('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'a.b.c', '..', 'Bearer x'),
        ),
      })
      .map(({ id, token }) =>
        objectText([
          ['type', '"authenticate"'],
          ['token', JSON.stringify(token === 'own' ? user.accessToken : token)],
          ...(id === undefined ? [] : [['id', id] as [string, string]]),
        ]),
      ),
  )
  .map((text) => ({ text, expect: 'any' as const }));

const probe: fc.Arbitrary<Probe> = fc.oneof(
  { arbitrary: anyJson, weight: 3 },
  { arbitrary: notJson, weight: 2 },
  { arbitrary: wrongFields, weight: 3 },
  { arbitrary: unknownType, weight: 2 },
  { arbitrary: protoKeys, weight: 2 },
  { arbitrary: deepNesting, weight: 1 },
  { arbitrary: huge, weight: 1 },
  { arbitrary: valid, weight: 3 },
);

// ---------------------------------------------------------------------------------------------------------------

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The replyTo the server must use: the message's own string id, else null. */
function expectedReplyTo(text: string): string | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  return typeof json === 'object' &&
    json !== null &&
    !Array.isArray(json) &&
    typeof (json as { id?: unknown }).id === 'string'
    ? (json as { id: string }).id
    : null;
}

const REPLY_TYPES = new Set(['error', 'pong', 'message_accepted', 'resumed', 'authenticated']);
const isRunEvent = (m: ServerMessage): m is RunEvent => 'seq' in m;
const isReply = (m: ServerMessage): boolean => !isRunEvent(m) && REPLY_TYPES.has(m.type);
const replyToOf = (m: ServerMessage): unknown => (m as { replyTo?: unknown }).replyTo;

let syncCounter = 0;
/** Sends a ping after whatever came before and returns every message received up to its pong. */
async function sync(from: number): Promise<ServerMessage[]> {
  const id = `${SYNC_PREFIX}${++syncCounter}`;
  ws.send({ type: 'ping', id });
  try {
    await ws.next((m) => m.type === 'pong' && m.replyTo === id, 5_000);
  } catch {
    const since = ws.messages
      .slice(from)
      .filter((m) => !isRunEvent(m))
      .map(describeMessage);
    throw new Error(
      `no pong within 5 s: the connection stopped answering (closed: ${JSON.stringify(ws.closed)}); since the batch: ${since.join(' | ').slice(0, 2000)}`,
    );
  }
  const end = ws.messages.findIndex((m, i) => i >= from && m.type === 'pong' && m.replyTo === id);
  return ws.messages.slice(from, end);
}

function describeMessage(m: ServerMessage): string {
  return JSON.stringify(m).slice(0, 300);
}

/** Checks the answers to one batch; returns a description of what is wrong, or undefined. */
function checkAnswers(batch: Probe[], window: ServerMessage[]): string | undefined {
  const replies = window.filter(isReply);
  if (replies.length !== batch.length) {
    return `${batch.length} messages got ${replies.length} replies: ${replies.map(describeMessage).join(' | ')}`;
  }
  for (const m of window) {
    const code = (m as { code?: unknown }).code;
    if (code === 'internal_error') return `internal_error: ${describeMessage(m)}`;
  }
  for (const r of replies) {
    if (!('replyTo' in r)) return `a reply without replyTo: ${describeMessage(r)}`;
    if (r.type === 'error') {
      if (typeof r.code !== 'string' || !/^[a-z_]+$/.test(r.code))
        return `error code is not stable snake_case: ${describeMessage(r)}`;
      if (typeof r.message !== 'string' || r.message.length === 0)
        return `error without a message: ${describeMessage(r)}`;
    }
  }
  // Each message's replyTo is its own string id (or null): compare as multisets, replies may come in another order.
  const expected = batch
    .map((p) => expectedReplyTo(p.text))
    .map((v) => JSON.stringify(v))
    .sort();
  const actual = replies.map((r) => JSON.stringify(replyToOf(r))).sort();
  if (JSON.stringify(expected) !== JSON.stringify(actual))
    return `replyTo values ${actual.join(',').slice(0, 500)} instead of ${expected.join(',').slice(0, 500)}`;
  // Messages known to be invalid get invalid_message, with their replyTo.
  const invalidExpected = batch
    .filter((p) => p.expect === 'invalid')
    .map((p) => JSON.stringify(expectedReplyTo(p.text)))
    .sort();
  const invalidGot = replies
    .filter((r) => r.type === 'error' && r.code === 'invalid_message')
    .map((r) => JSON.stringify(replyToOf(r)));
  for (const want of invalidExpected) {
    const at = invalidGot.indexOf(want);
    if (at < 0) return `a message known to be invalid (replyTo ${want.slice(0, 100)}) did not get invalid_message`;
    invalidGot.splice(at, 1);
  }
  return undefined;
}

function noteKnownIds(window: ServerMessage[]): void {
  for (const m of window) {
    if (m.type === 'message_accepted') {
      if (!knownRuns.includes(m.runId)) knownRuns.push(m.runId);
      if (!knownThreads.includes(m.threadId)) knownThreads.push(m.threadId);
    }
  }
}

function assertStillOpen(): void {
  expect(ws.closed, `the server closed the connection: ${JSON.stringify(ws.closed)}`).toBeUndefined();
}

// ---------------------------------------------------------------------------------------------------------------

describe('hostile WebSocket text messages (CONTRACT WebSocket / Errors)', () => {
  it('fixed nasties: 10k-deep arrays and objects, 30k-deep unclosed arrays, limit-sized strings, __proto__ keys', async () => {
    const big = 'x'.repeat(maxBytes - 200);
    const batch: Probe[] = [
      { text: '['.repeat(10_000) + ']'.repeat(10_000), expect: 'invalid' },
      {
        text: '['.repeat(Math.floor(maxBytes / 2) - 10) + ']'.repeat(Math.floor(maxBytes / 2) - 10),
        expect: 'invalid',
      },
      { text: '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000), expect: 'invalid' },
      { text: '['.repeat(maxBytes - 10), expect: 'invalid' },
      { text: `{"type":"ping","id":"deep-extra","extra":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, expect: 'any' },
      {
        text: `{"type":"user_message","id":"deep-text","text":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
        expect: 'invalid',
      },
      { text: `{"type":"ping","id":"${big}"}`, expect: 'invalid' },
      { text: `{"type":"${big}"}`, expect: 'invalid' },
      { text: `{"type":"user_message","id":"big-text","text":"${big}"}`, expect: 'any' },
      { text: '{"__proto__":{"type":"ping","polluted":"yes"}}', expect: 'invalid' },
      { text: '{"type":"ping","id":"proto","__proto__":{"polluted":"yes"}}', expect: 'any' },
      { text: '{"type":"ping","id":"ctor","constructor":{"prototype":{"polluted":"yes"}}}', expect: 'any' },
      { text: '{"type":"resume","id":"neg-zero","runId":"nope","afterSeq":-0}', expect: 'any' },
      { text: '{"type":"resume","id":"inf","runId":"nope","afterSeq":1e309}', expect: 'invalid' },
      { text: '{"type":"resume","id":"nan","runId":"nope","afterSeq":"NaN"}', expect: 'invalid' },
      { text: '{"type":"resume","id":"big","runId":"nope","afterSeq":1e308}', expect: 'any' },
    ];
    const from = ws.messages.length;
    for (const p of batch) {
      expect(Buffer.byteLength(p.text), 'fixture within the limit').toBeLessThanOrEqual(maxBytes);
      ws.send(p.text);
    }
    const window = await sync(from);
    noteKnownIds(window);
    expect(checkAnswers(batch, window)).toBeUndefined();
    assertStillOpen();
    expect(({} as Record<string, unknown>).polluted, 'Object.prototype was polluted').toBeUndefined();
  });

  it('property: any batch of hostile text messages gets one stable answer each, never internal_error, and the socket stays open', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(probe, { minLength: 1, maxLength: 6 }), async (batch) => {
        const sendable = batch.filter((p) => Buffer.byteLength(p.text) <= maxBytes);
        fc.pre(sendable.length > 0);
        const from = ws.messages.length;
        for (const p of sendable) ws.send(p.text);
        const window = await sync(from).catch((err: unknown) => {
          throw new Error(
            `${String(err)}\nsent: ${sendable.map((p) => JSON.stringify(p.text.slice(0, 300))).join('\n      ')}`,
          );
        });
        noteKnownIds(window);
        const problem = checkAnswers(sendable, window);
        if (problem !== undefined)
          throw new Error(
            `${problem}\nsent: ${sendable.map((p) => JSON.stringify(p.text.slice(0, 200))).join('\n      ')}`,
          );
        if (ws.closed !== undefined) throw new Error(`the server closed the connection: ${JSON.stringify(ws.closed)}`);
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 150), endOnFailure: true, ...FC_OPTIONS },
    );
    assertStillOpen();
    expect(({} as Record<string, unknown>).polluted, 'Object.prototype was polluted').toBeUndefined();
  }, 60_000);

  it('after the barrage: ping still answers pong, nothing ever said internal_error, every finished run is well formed', async () => {
    ws.send({ type: 'ping', id: 'after-barrage' });
    expect(await ws.next((m) => m.type === 'pong' && m.replyTo === 'after-barrage', 5_000)).toMatchObject({
      type: 'pong',
    });
    assertStillOpen();
    const internal = ws.messages.filter((m) => (m as { code?: unknown }).code === 'internal_error');
    expect(internal.map(describeMessage)).toEqual([]);
    // Runs the fuzzing started: whatever they did, their stored events are well formed so far, and every copy this
    // socket got (live or replayed) is the stored event. A gap on this socket is not a fault: a `resume` that claims
    // events up to afterSeq (the fuzzer's claims are often false) is told only what follows, as the contract says.
    const runIds = new Set(ws.messages.filter(isRunEvent).map((e) => e.runId));
    for (const runId of runIds) {
      const stored = await request<RunEventsResponse>(app.url, 'GET', `/runs/${runId}/events`, {
        token: user.accessToken,
      });
      expect(stored.status, `run ${runId}`).toBe(200);
      expect(verifyRunEvents(stored.body.events, { complete: false }), `run ${runId}`).toEqual([]);
      const bySeq = new Map(stored.body.events.map((e) => [e.seq, e]));
      // Stored before sent: every copy is there.
      for (const e of ws.eventsOf(runId)) expect(bySeq.get(e.seq), `seq ${e.seq} of run ${runId} as sent`).toEqual(e);
    }
  });
});
