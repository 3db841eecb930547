import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/client/backoff.js';
import { closeRuleOf } from '../../src/client/index.js';
import { parseFrame } from '../../src/client/frames.js';
import { CLOSE } from '../../src/protocol/index.js';

describe('SDK: the close-code table', () => {
  it("maps every close the server sends (src/errors CLOSE) to a code and the contract's reconnect rule", () => {
    const expected: Record<keyof typeof CLOSE, [string, 'retry' | 'refresh' | 'stop']> = {
      normal: ['connection_closed', 'stop'],
      shuttingDown: ['server_shutting_down', 'retry'],
      binaryFrame: ['unsupported_data', 'stop'],
      rateLimited: ['rate_limited', 'stop'],
      tooManyConnections: ['too_many_connections', 'stop'],
      sessionRevoked: ['session_revoked', 'stop'],
      slowConsumer: ['slow_consumer', 'retry'],
      tokenUserMismatch: ['token_user_mismatch', 'stop'],
      internalError: ['server_error', 'retry'],
      tokenExpired: ['token_expired', 'refresh'],
    };
    for (const [kind, { code, reason }] of Object.entries(CLOSE)) {
      const rule = closeRuleOf(code, reason);
      expect([rule.code, rule.reconnect], kind).toEqual(expected[kind as keyof typeof CLOSE]);
    }
    expect(closeRuleOf(CLOSE.sessionRevoked.code, CLOSE.sessionRevoked.reason).endsSession).toBe(true);
    expect(closeRuleOf(CLOSE.slowConsumer.code, CLOSE.slowConsumer.reason).minDelayMs).toBeGreaterThanOrEqual(1_000);
  });

  it('maps the codes `ws` and browsers produce themselves, and unknown ones', () => {
    expect(closeRuleOf(1006, '')).toMatchObject({ code: 'connection_lost', reconnect: 'retry' });
    expect(closeRuleOf(1007, '')).toMatchObject({ code: 'invalid_payload', reconnect: 'stop' });
    expect(closeRuleOf(1009, '')).toMatchObject({ code: 'message_too_big', reconnect: 'stop' });
    expect(closeRuleOf(1002, '')).toMatchObject({ code: 'protocol_error', reconnect: 'stop' });
    expect(closeRuleOf(1008, 'something new')).toMatchObject({ code: 'policy_violation', reconnect: 'stop' });
    expect(closeRuleOf(4999, '')).toMatchObject({ code: 'connection_closed', reconnect: 'stop' });
    expect(closeRuleOf(1015, '')).toMatchObject({ code: 'connection_lost', reconnect: 'retry' });
  });

  it('backoff doubles from the initial delay up to the cap, jittered between half and all of it', () => {
    const options = { initialDelayMs: 100, maxDelayMs: 1_000 };
    expect([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, options, () => 1))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
    expect([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, options, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
  });

  it('frames are checked structurally: known shapes pass, anything else is ignored', () => {
    const event = { type: 'agent_thinking', runId: 'r', threadId: 't', seq: 2, ts: 'now', text: 'hm' };
    expect(parseFrame(JSON.stringify(event))).toEqual(event);
    expect(parseFrame(JSON.stringify({ ...event, seq: 0 }))).toBeUndefined();
    expect(parseFrame(JSON.stringify({ ...event, seq: 1.5 }))).toBeUndefined();
    expect(parseFrame(JSON.stringify({ ...event, runId: 7 }))).toBeUndefined();
    expect(parseFrame(JSON.stringify({ type: 'error', code: 'x', message: 'y', replyTo: null }))).toMatchObject({
      type: 'error',
    });
    expect(
      parseFrame(JSON.stringify({ type: 'resumed', replyTo: 'a', runId: 'r', lastSeq: '3', finished: true })),
    ).toBeUndefined();
    expect(parseFrame(JSON.stringify({ type: 'from_the_future' }))).toBeUndefined();
    expect(parseFrame('not json')).toBeUndefined();
    expect(parseFrame(new Uint8Array([1]))).toBeUndefined();
  });
});
