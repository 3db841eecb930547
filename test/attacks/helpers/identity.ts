// Helpers shared by the attack modules on identity and accounts: bola, enumeration, mass-assignment,
// secret-hygiene and passwords.
import { randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { expect } from 'vitest';
import type { AuthResponse } from '../../../src/protocol/index.js';
import type { HttpResult } from '../../../src/testing/index.js';
import { frame } from '../../e2e/helpers/wire.js';

export const PASSWORD = 'correct horse battery';
/** A well-formed id that no thread or run has. */
export const MISSING_ID = '00000000-0000-4000-8000-000000000000';

export type ErrorBody = { error: { code: string; message: string } };
export const codeOf = (res: { body: unknown }): string | undefined =>
  (res.body as Partial<ErrorBody> | undefined)?.error?.code;
export const freshEmail = (prefix = 'acct'): string => `${prefix}-${randomUUID()}@example.com`;

/** CONTRACT "HTTP API": register and login answer `{user, accessToken, refreshToken, tokenType:"Bearer", expiresIn}`. */
export function expectAuthResponse(res: HttpResult<AuthResponse>, status: number, userEmail?: string): void {
  expect(res.status).toBe(status);
  expect(res.body).toMatchObject({
    user: { id: expect.any(String), isAdmin: false },
    accessToken: expect.any(String),
    refreshToken: expect.any(String),
    tokenType: 'Bearer',
    expiresIn: 900,
  });
  if (userEmail !== undefined) expect(res.body.user.email.toLowerCase()).toBe(userEmail.toLowerCase());
  expect(res.body.accessToken).not.toBe(res.body.refreshToken);
  // CONTRACT "Responses that carry a token send Cache-Control: no-store" (RFC 6749 5.1).
  expect(res.headers.get('cache-control')).toContain('no-store');
}

/** One HTTP exchange with the body exactly as the server sent it. */
export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  readonly body: unknown;
}

/**
 * A bounded HTTP request over node:http. `localAddress` chooses the client IP the server sees: on Linux every
 * 127.x.y.z is a loopback address, so a test can play several clients against limits kept per IP.
 */
export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string>; localAddress?: string } = {},
): Promise<RawResponse> {
  const payload =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  const headers: Record<string, string> = { ...options.headers };
  if (payload !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${baseUrl}${path}`,
      { method, headers, ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          clearTimeout(timer);
          let body: unknown = text;
          try {
            body = text === '' ? undefined : JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
      },
    );
    const timer = setTimeout(() => (req.destroy(), reject(new Error(`${method} ${path} timed out`))), 15_000);
    req.on('error', (err) => (clearTimeout(timer), reject(err)));
    req.end(payload);
  });
}

/** CONTRACT: rate limits answer 429 `rate_limited` with a `Retry-After` of whole seconds (at most the 60 s window). */
export function expectRateLimited(res: {
  status: number;
  body: unknown;
  headers: Headers | IncomingHttpHeaders;
}): void {
  expect(res.status).toBe(429);
  expect(codeOf(res)).toBe('rate_limited');
  const header = res.headers instanceof Headers ? res.headers.get('retry-after') : res.headers['retry-after'];
  const retryAfter = Number(header);
  expect(Number.isInteger(retryAfter), `Retry-After: ${String(header)}`).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

// ---------------------------------------------------------------------------------------------------------------
// Abuse generators for the isolation property in bola.test.ts: what user A throws at the server while user B works.

/** Hostile text messages for A's socket; `{"kind":…}` entries are placeholders materialize() turns into B's ids. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.constantFrom(
    '{',
    '{"type":"ping"',
    '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
    '{"type":"__proto__"}',
    '{"type":"ping","__proto__":{"polluted":1}}',
    '{"type":"user_message","text":42}',
    '{"type":"resume","runId":"x","afterSeq":-1}',
    '{"type":"cancel_run","runId":""}',
    '{"type":"authenticate","token":"a.b.c"}',
  ),
  // Messages that name B's runs and threads: A must get not_found and B must notice nothing.
  fc
    .record({ kind: fc.constantFrom('resume', 'cancel_run', 'user_message'), n: fc.nat() })
    .map(({ kind, n }) => JSON.stringify({ kind, n })),
  // A's own runs, some slow, so A is at its run limit while B works.
  fc
    .constantFrom('calculate 2+2', 'wait 1 second', 'what time is it in Asia/Tokyo', 'search the docs for tickets')
    .map((text) => JSON.stringify({ type: 'user_message', text })),
  fc
    .integer({ min: 1_000, max: 60_000 })
    .map((n) => JSON.stringify({ type: 'user_message', text: 'calculate 1+1 '.repeat(Math.floor(n / 14)) })),
);

/** Fills in references to B's real runs and threads (known only once B has sent its messages). */
export function materialize(text: string, bobRuns: string[], bobThreads: string[]): string {
  if (!text.startsWith('{"kind":')) return text;
  const { kind, n } = JSON.parse(text) as { kind: string; n: number };
  const runId = bobRuns[n % Math.max(1, bobRuns.length)] ?? 'none';
  const threadId = bobThreads[n % Math.max(1, bobThreads.length)] ?? 'none';
  if (kind === 'resume') return JSON.stringify({ type: 'resume', id: `steal-resume-${n}`, runId, afterSeq: 0 });
  if (kind === 'cancel_run') return JSON.stringify({ type: 'cancel_run', id: `steal-cancel-${n}`, runId });
  return JSON.stringify({ type: 'user_message', id: `steal-post-${n}`, threadId, text: 'calculate 1+1' });
}

/** Up to five frames of any opcode, flags and masking, concatenated. */
export const brokenFrames: fc.Arbitrary<Buffer> = fc
  .array(
    fc.record({
      opcode: fc.integer({ min: 0, max: 15 }),
      payload: fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.string({ maxLength: 100 }).map((s) => new Uint8Array(Buffer.from(s))),
      ),
      fin: fc.boolean(),
      rsv: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 7 })),
      masked: fc.oneof({ arbitrary: fc.constant(true), weight: 5 }, { arbitrary: fc.constant(false), weight: 1 }),
    }),
    { minLength: 1, maxLength: 5 },
  )
  .map((frames) => Buffer.concat(frames.map((f) => frame(f.opcode, Buffer.from(f.payload), f))));

/** Opens a raw upgraded socket with `accessToken` over plain TCP, writes the bytes, waits a moment, drops it. */
export async function rawAbuse(port: number, accessToken: string, bytes: Buffer): Promise<void> {
  const socket: Socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const head = [
    'GET /ws HTTP/1.1',
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    `Authorization: Bearer ${accessToken}`,
  ];
  let received = '';
  const upgraded = new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      if (received.includes('\r\n\r\n')) resolve();
    });
    socket.on('close', () => resolve());
  });
  socket.write(`${head.join('\r\n')}\r\n\r\n`);
  await upgraded;
  socket.write(bytes);
  await new Promise((r) => setTimeout(r, 30));
  socket.destroy();
}
