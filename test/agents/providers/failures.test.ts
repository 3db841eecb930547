import { afterEach, describe, expect, it } from 'vitest';
import { refusingUrl, type FakeReply } from '../../../src/testing/fake-llm/index.js';
import type { Recorded } from '../fake-io.js';
import {
  anthropic,
  API_KEY,
  ask,
  deltasOf,
  openai,
  settingsFor,
  useFakeServer,
  type Dialect,
  type Outcome,
} from './helpers.js';

/**
 * How each provider fails, against fake servers on 127.0.0.1 that refuse, stall, throttle, fail and malform: every
 * case ends with a stable code (or recovers) within a bounded time, and no error message carries the API key.
 */
const stream = (reply: FakeReply): Extract<FakeReply, { kind: 'stream' }> => {
  if (reply.kind !== 'stream') throw new TypeError('expected a stream reply');
  return reply;
};
/** The byte offset where the SSE event holding `text` starts (the texts here are ASCII). */
const frameStartOf = (body: string, text: string): number => body.lastIndexOf('\n\n', body.indexOf(text)) + 2;

describe.each([openai, anthropic])('$protocol provider failures', (dialect: Dialect) => {
  const server = useFakeServer(dialect.protocol);
  // Every scripted reply is used: a test that left one would feed the next test.
  afterEach(() => expect(server.fake.clearReplies()).toBe(0));
  const provider = (overrides: Parameters<typeof settingsFor>[1] = {}) =>
    dialect.provider(settingsFor(server.fake.url, overrides));
  const sinceNow = (): (() => number) => {
    const before = server.fake.requests.length;
    return () => server.fake.requests.length - before;
  };
  const expectCode = (outcome: Outcome, code: string): void => {
    expect(outcome.error).toMatchObject({ code, message: expect.any(String) });
    expect((outcome.error as Error).message).not.toContain(API_KEY);
  };

  it('connection refused: llm_unavailable after the retries, with backoff', async () => {
    const outcome = await ask(
      dialect.provider(settingsFor(await refusingUrl(dialect.protocol), { maxRetries: 1 })),
      'hello',
    );
    expectCode(outcome, 'llm_unavailable');
    // One retry after the SDK's first backoff step (0.5 s less up to 25 % jitter).
    expect(outcome.ms).toBeGreaterThanOrEqual(350);
    expect(outcome.ms).toBeLessThan(3_000);
  });

  it('no response at all: each attempt times out after LLM_TIMEOUT_MS, then llm_timeout', async () => {
    const requests = sinceNow();
    server.fake.enqueue({ kind: 'stall' }, { kind: 'stall' });
    const outcome = await ask(provider({ timeoutMs: 300, maxRetries: 1 }), 'hello');
    expectCode(outcome, 'llm_timeout');
    expect(requests()).toBe(2);
    await server.fake.waitFor((all) => all.slice(-2).every((r) => r.aborted));
  });

  it('a stream that stalls mid-answer ends with llm_timeout (after what it sent) and its request is aborted', async () => {
    const requests = sinceNow();
    const reply = stream(dialect.text(['first words', ' and never the rest']));
    server.fake.enqueue({ ...reply, stallAfterBytes: frameStartOf(reply.body, ' and never') });
    const outcome = await ask(provider({ timeoutMs: 300, maxRetries: 2 }), 'hello');
    expectCode(outcome, 'llm_timeout');
    expect(deltasOf(outcome.calls)).toBe('first words');
    // A stream that has started is never retried: its text is already out.
    expect(requests()).toBe(1);
    await server.fake.waitFor((all) => all.at(-1)?.aborted === true);
  });

  it('429 then success: retried after the Retry-After the server asked for, and the answer arrives', async () => {
    const requests = sinceNow();
    server.fake.enqueue(
      dialect.error(429, dialect.protocol === 'openai' ? 'rate_limit_exceeded' : 'rate_limit_error', {
        'retry-after-ms': '20',
      }),
      dialect.text(['after the wait']),
    );
    const outcome = await ask(provider({ maxRetries: 2 }), 'hello');
    expect(outcome.result?.text).toBe('after the wait');
    expect(requests()).toBe(2);
  });

  it('429 that asks to wait longer than LLM_TIMEOUT_MS: llm_rate_limited at once, without sleeping', async () => {
    const requests = sinceNow();
    server.fake.enqueue(dialect.error(429, 'rate_limit_error', { 'retry-after': '3600' }));
    const outcome = await ask(provider({ maxRetries: 3 }), 'hello');
    expectCode(outcome, 'llm_rate_limited');
    expect(outcome.error).toMatchObject({ retryAfterSeconds: 3600 });
    expect(requests()).toBe(1);
    expect(outcome.ms).toBeLessThan(1_500);
  });

  it('persistent 500: llm_unavailable after exactly 1 + LLM_MAX_RETRIES attempts', async () => {
    const requests = sinceNow();
    const fail = dialect.error(500, 'api_error', { 'retry-after-ms': '10' });
    server.fake.enqueue(fail, fail, fail, fail);
    const outcome = await ask(provider({ maxRetries: 2 }), 'hello');
    expectCode(outcome, 'llm_unavailable');
    expect(requests()).toBe(3);
    expect(server.fake.clearReplies()).toBe(1);
  });

  it('500 without Retry-After: the SDK backs off before retrying', async () => {
    server.fake.enqueue(dialect.error(503, 'api_error'), dialect.text(['recovered']));
    const outcome = await ask(provider({ maxRetries: 1 }), 'hello');
    expect(outcome.result?.text).toBe('recovered');
    expect(outcome.ms).toBeGreaterThanOrEqual(350);
  });

  it('401 with a body that echoes the key: llm_request_rejected, not retried, and the message leaves the key out', async () => {
    const requests = sinceNow();
    server.fake.enqueue({
      kind: 'error',
      status: 401,
      body: { error: { type: 'authentication_error', message: `Incorrect API key provided: ${API_KEY}` } },
    });
    const outcome = await ask(provider({ maxRetries: 2 }), 'hello');
    expectCode(outcome, 'llm_request_rejected');
    expect(requests()).toBe(1);
  });

  it('an event whose data is not JSON: llm_bad_response', async () => {
    const good = stream(dialect.text(['fine so far', ' then garbage']));
    const at = frameStartOf(good.body, ' then garbage');
    const garbage =
      dialect.protocol === 'openai'
        ? 'data: {"id": not json}\n\n'
        : 'event: content_block_delta\ndata: {"type": not json}\n\n';
    server.fake.enqueue({ ...good, body: good.body.slice(0, at) + garbage + good.body.slice(at), split: 'awkward' });
    const outcome = await ask(provider(), 'hello');
    expectCode(outcome, 'llm_bad_response');
    expect(deltasOf(outcome.calls)).toBe('fine so far');
  });

  it('a stream that ends before the API says it is done: llm_bad_response', async () => {
    server.fake.enqueue(dialect.truncated(['cut ', 'off']));
    const outcome = await ask(provider(), 'hello');
    expectCode(outcome, 'llm_bad_response');
    expect(deltasOf(outcome.calls)).toBe('cut off');
  });

  it('the server hangs up without answering: retried, then llm_unavailable', async () => {
    const requests = sinceNow();
    server.fake.enqueue({ kind: 'hangup' }, { kind: 'hangup' });
    expectCode(await ask(provider({ maxRetries: 1 }), 'hello'), 'llm_unavailable');
    expect(requests()).toBe(2);
  });

  it('cancel mid-stream aborts the HTTP request at once and rethrows the abort reason', async () => {
    const reply = stream(dialect.text(['streaming...', ' more']));
    server.fake.enqueue({ ...reply, stallAfterBytes: frameStartOf(reply.body, ' more') });
    const controller = new AbortController();
    const reason = new Error('cancelled by the test');
    const live: Recorded[][] = [];
    const running = ask(provider({ timeoutMs: 10_000 }), 'hello', { signal: controller.signal, live });
    // Wait until the first text is out, so the abort lands mid-stream.
    for (let i = 0; i < 200 && deltasOf(live[0] ?? []) === ''; i++) await new Promise((r) => setTimeout(r, 10));
    expect(deltasOf(live[0] ?? [])).toBe('streaming...');
    const t0 = Date.now();
    controller.abort(reason);
    const outcome = await running;
    expect(outcome.error).toBe(reason);
    expect(Date.now() - t0).toBeLessThan(500);
    await server.fake.waitFor((all) => all.at(-1)?.aborted === true, 2_000);
  });
});
