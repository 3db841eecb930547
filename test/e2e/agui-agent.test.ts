import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { EventType, type BaseEvent, type RunAgentInput } from '@ag-ui/core';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentTokenVerifier } from '../../docs/examples/verify-agent-token.js';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import {
  aguiRun,
  FakeAguiAgent,
  runError,
  runStarted,
  stateSnapshot,
  textMessage,
  textRun,
  toolCall,
  toolResult,
  type AguiReply,
} from '../../src/testing/agui-agent/index.js';
import { createTestApp, registerUser, request, type TestApp, type TestSocket } from '../../src/testing/index.js';
import { aguiEvents, aguiProblems, replayThroughClient, textOf, type AguiEvent } from './helpers/agui.js';
import { connect, runToEnd, send, terminalOf, type User } from './helpers/runs.js';
import { endOf, ids, sse } from './helpers/sse.js';

/** LLM_PROVIDER=agui: a team's own AG-UI agent answers every run (CONTRACT "Bring your own agent (AG-UI)"). */

let fake: FakeAguiAgent;
let app: TestApp;
const sockets: TestSocket[] = [];
beforeAll(async () => {
  fake = await FakeAguiAgent.start();
  app = await createTestApp({ LLM_PROVIDER: 'agui', AGENT_URL: fake.url, AGENT_TIMEOUT_MS: '1000' });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await app?.close();
  await fake?.close();
});

/** The next request is answered with what `events` builds from it (its ids, its messages, its state). */
function answer(build: (input: RunAgentInput) => readonly BaseEvent[], gapMs = 0): void {
  fake.enqueue({
    kind: 'script',
    run: async (input, emit) => {
      for (const event of build(input)) {
        await emit(event);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    },
  });
}

async function userWithSocket(prefix: string): Promise<{ user: User; ws: TestSocket }> {
  const user = await registerUser(app.url, prefix);
  const ws = await connect(app, user);
  sockets.push(ws);
  return { user, ws };
}

/** Runs one message through the agent; its events as delivered, and the request the agent got. */
async function runOnce(ws: TestSocket, id: string, text: string, threadId?: string) {
  const { ack, events } = await runToEnd(ws, { id, text, threadId });
  return { ack, events, body: fake.requests.at(-1)?.body as RunAgentInput };
}

const bodies = (events: readonly RunEvent[]) =>
  events.map(({ runId: _r, threadId: _t, seq: _s, ts: _ts, ...rest }) => rest);

describe('agui agent: mapping', () => {
  it('text, reasoning, a tool call and its result become run events; the answer is the streamed text', async () => {
    const { ws } = await userWithSocket('agui-map');
    answer((input) =>
      aguiRun(
        input,
        { type: EventType.REASONING_START, messageId: 'r1' },
        { type: EventType.REASONING_MESSAGE_START, messageId: 'r1', role: 'reasoning' },
        { type: EventType.REASONING_MESSAGE_CONTENT, messageId: 'r1', delta: 'looking it up' },
        { type: EventType.REASONING_MESSAGE_END, messageId: 'r1' },
        { type: EventType.REASONING_END, messageId: 'r1' },
        toolCall('tc-1', 'lookup', { q: 'weather' }),
        toolResult('tc-1', '{"temp":21}'),
        textMessage('m1', ['It is ', '21 degrees.']),
      ),
    );
    const { events } = await runOnce(ws, 'm', 'weather?');
    expect(bodies(events)).toEqual([
      { type: 'agent_started', agent: 'agui' },
      { type: 'agent_thinking', text: 'looking it up' },
      { type: 'tool_executing', toolCallId: 'tc-1', tool: 'lookup', args: { q: 'weather' } },
      {
        type: 'tool_completed',
        toolCallId: 'tc-1',
        tool: 'lookup',
        result: { temp: 21 },
        durationMs: expect.any(Number),
      },
      { type: 'agent_message_delta', text: 'It is ' },
      { type: 'agent_message_delta', text: '21 degrees.' },
      { type: 'agent_completed', text: 'It is 21 degrees.', durationMs: expect.any(Number) },
    ]);
  });

  it("an older agent's THINKING_* events still become agent_thinking", async () => {
    const { ws } = await userWithSocket('agui-thinking');
    answer((input) =>
      aguiRun(
        input,
        { type: 'THINKING_START' } as unknown as BaseEvent,
        { type: 'THINKING_TEXT_MESSAGE_START' } as unknown as BaseEvent,
        { type: 'THINKING_TEXT_MESSAGE_CONTENT', delta: 'hmm' } as unknown as BaseEvent,
        { type: 'THINKING_TEXT_MESSAGE_END' } as unknown as BaseEvent,
        { type: 'THINKING_END' } as unknown as BaseEvent,
        textMessage('m', ['ok']),
      ),
    );
    const { events } = await runOnce(ws, 'm', 'think');
    expect(bodies(events).slice(1, 3)).toEqual([
      { type: 'agent_thinking', text: 'hmm' },
      { type: 'agent_message_delta', text: 'ok' },
    ]);
  });

  it('sends the thread history with ids and the new message, and the state the last run left; other events stay agui_event', async () => {
    const { ws } = await userWithSocket('agui-state');
    answer((input) => aguiRun(input, stateSnapshot({ count: 1 }), textMessage('a1', ['first'])));
    const first = await runOnce(ws, 'm1', 'one');
    expect(first.body).toMatchObject({
      threadId: first.ack.threadId,
      runId: first.ack.runId,
      messages: [{ role: 'user', content: 'one', id: expect.any(String) }],
      state: {},
      tools: [],
      context: [],
      forwardedProps: {},
    });
    expect(bodies(first.events)).toContainEqual({
      type: 'agui_event',
      event: { type: 'STATE_SNAPSHOT', snapshot: { count: 1 } },
    });
    answer((input) =>
      aguiRun(
        input,
        { type: EventType.STATE_DELTA, delta: [{ op: 'replace', path: '/count', value: 2 }] },
        { type: EventType.CUSTOM, name: 'note', value: { ok: true } },
        textMessage('a2', ['second']),
      ),
    );
    const second = await runOnce(ws, 'm2', 'two', first.ack.threadId);
    expect(second.body.state).toEqual({ count: 1 });
    expect(second.body.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'one'],
      ['assistant', 'first'],
      ['user', 'two'],
    ]);
    expect(new Set(second.body.messages.map((m) => m.id)).size).toBe(3);
    expect(bodies(second.events).filter((e) => e.type === 'agui_event')).toEqual([
      { type: 'agui_event', event: { type: 'STATE_DELTA', delta: [{ op: 'replace', path: '/count', value: 2 }] } },
      { type: 'agui_event', event: { type: 'CUSTOM', name: 'note', value: { ok: true } } },
    ]);
    answer((input) => textRun(input, ['third']));
    const third = await runOnce(ws, 'm3', 'three', first.ack.threadId);
    expect(third.body.state).toEqual({ count: 2 });
  });

  it('each request carries only its own user and thread: two users on one agent', async () => {
    const a = await userWithSocket('agui-iso-a');
    const b = await userWithSocket('agui-iso-b');
    answer((input) => textRun(input, ['for a']));
    const fromA = await runOnce(a.ws, 'a', 'secret of a');
    answer((input) => textRun(input, ['for b']));
    const fromB = await runOnce(b.ws, 'b', 'question of b');
    expect(fromB.body.messages.map((m) => m.content)).toEqual(['question of b']);
    expect(JSON.stringify(fromB.body)).not.toContain('secret of a');
    expect(fromA.body.threadId).not.toBe(fromB.body.threadId);
    expect(b.ws.messages.some((m) => 'runId' in m && m.runId === fromA.ack.runId)).toBe(false);
  });
});

describe('agui agent: identity', () => {
  it('each request carries a fresh agent token the agent verifies with the JWKS; it is never an access token', async () => {
    const { user, ws } = await userWithSocket('agui-token');
    answer((input) => textRun(input, ['ok']));
    const { ack } = await runOnce(ws, 't', 'who am I?');
    const header = fake.requests.at(-1)?.headers.authorization ?? '';
    expect(header).toMatch(/^Bearer /);
    const token = header.slice('Bearer '.length);
    const jwks = createRemoteJWKSet(new URL(`${app.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: app.config.jwt.issuer,
      audience: new URL(fake.url).origin,
      typ: 'agent+jwt',
    });
    expect(protectedHeader.alg).toBe('EdDSA');
    expect(decodeProtectedHeader(token).kid).toEqual(expect.any(String));
    expect(payload).toMatchObject({ sub: user.user.id, thread_id: ack.threadId, run_id: ack.runId });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(300);
    expect(payload.jti).toEqual(expect.any(String));
    // Not an access token, anywhere one is taken.
    expect((await request(app.url, 'GET', '/auth/me', { token })).status).toBe(401);
    // A second request gets another token.
    answer((input) => textRun(input, ['again']));
    await runOnce(ws, 't2', 'again');
    expect(fake.requests.at(-1)?.headers.authorization).not.toBe(header);
  });

  it('an agent that echoes its token never shows it: redacted in text, even split across pieces, tool args and events', async () => {
    const { ws } = await userWithSocket('agui-echo');
    fake.enqueue({
      kind: 'script',
      run: async (input, emit) => {
        const token = (fake.requests.at(-1)?.headers.authorization ?? '').slice('Bearer '.length);
        const cut = Math.floor(token.length / 2);
        for (const event of aguiRun(
          input,
          toolCall('tc-echo', 'echo', { token }),
          toolResult('tc-echo', JSON.stringify({ token })),
          { type: EventType.CUSTOM, name: 'leak', value: token },
          textMessage('m-echo', [`your token: ${token.slice(0, cut)}`, `${token.slice(cut)} (end)`]),
        ))
          await emit(event);
      },
    });
    const { events } = await runOnce(ws, 'e', 'echo my token');
    const token = (fake.requests.at(-1)?.headers.authorization ?? '').slice('Bearer '.length);
    expect(token.length).toBeGreaterThan(20);
    expect(JSON.stringify(ws.messages)).not.toContain(token);
    expect(JSON.stringify(ws.messages)).not.toContain(token.slice(0, 40));
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'your token: [redacted] (end)' });
  });
});

describe('agui agent: failures end the run with agent_error', () => {
  async function failureOf(reply: AguiReply | ((input: RunAgentInput) => readonly BaseEvent[])) {
    if (typeof reply === 'function') answer(reply);
    else fake.enqueue(reply);
    const { ws } = await userWithSocket('agui-fail');
    const { events } = await runOnce(ws, 'f', 'go');
    return { events, last: events.at(-1) as Extract<RunEvent, { type: 'agent_error' }> };
  }

  it('an error status or a closed connection is agent_unavailable; RUN_ERROR is agent_failed with its message', async () => {
    expect((await failureOf({ kind: 'error', status: 500 })).last).toMatchObject({ code: 'agent_unavailable' });
    expect((await failureOf({ kind: 'hangup' })).last).toMatchObject({ code: 'agent_unavailable' });
    const failed = await failureOf((input) => [runStarted(input), runError('the model is down')]);
    expect(failed.last).toMatchObject({ type: 'agent_error', code: 'agent_failed', message: 'the model is down' });
  });

  it('garbage, invalid JSON, out-of-order events and a stream without RUN_FINISHED are agent_protocol_error', async () => {
    for (const reply of [
      { kind: 'raw', body: '<html>not an agent</html>', contentType: 'text/html' } as const,
      { kind: 'raw', body: 'data: {not json\n\n' } as const,
      {
        kind: 'raw',
        body: `data: ${JSON.stringify({ type: 'TEXT_MESSAGE_CONTENT', messageId: 'x', delta: 'y' })}\n\n`,
      } as const,
    ]) {
      expect((await failureOf(reply)).last, reply.body).toMatchObject({ code: 'agent_protocol_error' });
    }
    const unfinished = await failureOf((input) => [runStarted(input), ...textMessage('m', ['half'])]);
    expect(unfinished.last).toMatchObject({ code: 'agent_protocol_error' });
  });

  it('an agent that drops its connection mid-stream ends the run agent_protocol_error, and this server lives on', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): void => void rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const dropped = await failureOf({
        kind: 'script',
        run: async (input, emit) => {
          await emit(runStarted(input));
          for (const event of textMessage('m', ['partial ', 'answer'])) await emit(event);
          throw new Error('the agent process died');
        },
      });
      expect(dropped.last).toMatchObject({ type: 'agent_error', code: 'agent_protocol_error' });
      expect(bodies(dropped.events).filter((e) => e.type === 'agent_message_delta').length).toBeLessThanOrEqual(2);
      await new Promise((r) => setTimeout(r, 200));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('no headers, or no event, for AGENT_TIMEOUT_MS is agent_timeout, and the request is aborted', async () => {
    const silent = await failureOf({ kind: 'stall' });
    expect(silent.last).toMatchObject({ code: 'agent_timeout' });
    const stalled = await failureOf({ kind: 'events', events: [], stallAfter: 0 });
    expect(stalled.last).toMatchObject({ code: 'agent_timeout' });
    await fake.waitFor((requests) => requests.at(-1)?.aborted === true, 3_000);
  });

  it('a tool call the agent leaves open gets tool_completed tool_result_missing before the terminal event', async () => {
    const { events } = await failureOf((input) =>
      aguiRun(input, toolCall('tc-open', 'slow', {}), textMessage('m', ['done'])),
    );
    const types = events.map((e) => e.type);
    expect(types.slice(-2)).toEqual(['tool_completed', 'agent_completed']);
    expect(events.at(-2)).toMatchObject({ toolCallId: 'tc-open', error: { code: 'tool_result_missing' } });
  });

  it('an agent that is not listening at all is agent_unavailable', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const offline = await createTestApp({ LLM_PROVIDER: 'agui', AGENT_URL: `http://127.0.0.1:${closedPort}/agent` });
    try {
      const user = await registerUser(offline.url, 'agui-down');
      const ws = await connect(offline, user);
      sockets.push(ws);
      const ack = await send(ws, { id: 'd', text: 'anyone?' });
      expect(await terminalOf(ws, ack.runId)).toMatchObject({ type: 'agent_error', code: 'agent_unavailable' });
    } finally {
      await offline.close();
    }
  });
});

describe('agui agent: cancel', () => {
  it('cancel_run closes the request to the agent within 2 s and ends the run run_cancelled', async () => {
    const { ws } = await userWithSocket('agui-cancel');
    fake.enqueue({
      kind: 'script',
      run: async (input, emit, signal) => {
        await emit(runStarted(input));
        for (let i = 0; !signal.aborted && i < 200; i++) {
          await emit({ type: EventType.TEXT_MESSAGE_CHUNK, messageId: 'm', delta: `${i} ` });
          await new Promise((r) => setTimeout(r, 50));
        }
      },
    });
    const ack = await send(ws, { id: 'c', text: 'talk forever' });
    await ws.next((m) => m.type === 'agent_message_delta' && 'runId' in m && m.runId === ack.runId);
    const index = fake.requests.length - 1;
    const cancelledAt = Date.now();
    ws.send({ type: 'cancel_run', runId: ack.runId });
    expect(await terminalOf(ws, ack.runId)).toMatchObject({ type: 'run_cancelled' });
    await fake.waitFor((requests) => requests[index]?.aborted === true, 2_000);
    expect((fake.requests[index]?.abortedAt ?? Infinity) - cancelledAt).toBeLessThan(2_000);
    expect(verifyRunEvents(ws.eventsOf(ack.runId))).toEqual([]);
  });
});

describe('agui agent: the verification example of docs/AGENTS.md', () => {
  it('accepts the agent token of a P-256 AGENT_SIGNING_KEY (ES256) beside HS256 access tokens, and refuses everything else', async () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const es = await createTestApp({
      LLM_PROVIDER: 'agui',
      AGENT_URL: fake.url,
      AGENT_SIGNING_KEY: pem,
      JWT_SECRET_KEY: randomBytes(48).toString('base64'),
    });
    try {
      const jwks = await request<{ keys: Array<{ alg: string; kid: string }> }>(
        es.url,
        'GET',
        '/.well-known/jwks.json',
      );
      // HS256 access tokens publish no key: the one key is the agent's.
      expect(jwks.body.keys).toEqual([expect.objectContaining({ alg: 'ES256', kty: 'EC', crv: 'P-256', use: 'sig' })]);
      expect(JSON.stringify(jwks.body)).not.toMatch(/"d":/);
      const user = await registerUser(es.url, 'agui-example');
      const ws = await connect(es, user);
      sockets.push(ws);
      answer((input) => textRun(input, ['verified']));
      const ack = await send(ws, { id: 'v', text: 'check me' });
      await terminalOf(ws, ack.runId);
      const authorization = fake.requests.at(-1)?.headers.authorization;

      const verify = agentTokenVerifier({
        jwksUrl: `${es.url}/.well-known/jwks.json`,
        issuer: es.config.jwt.issuer,
        audience: new URL(fake.url).origin,
      });
      expect(await verify(authorization)).toEqual({ userId: user.user.id, threadId: ack.threadId, runId: ack.runId });
      await expect(verify(`Bearer ${user.accessToken}`)).rejects.toThrow();
      await expect(verify(undefined)).rejects.toThrow('no agent token');
      // One character of the signature changed (in the middle: a last character may only carry padding bits).
      const signatureAt = (authorization ?? '').lastIndexOf('.') + 10;
      const swapped = (authorization ?? '')[signatureAt] === 'A' ? 'B' : 'A';
      const tampered = `${(authorization ?? '').slice(0, signatureAt)}${swapped}${(authorization ?? '').slice(signatureAt + 1)}`;
      await expect(verify(tampered)).rejects.toThrow();
      const elsewhere = agentTokenVerifier({
        jwksUrl: `${es.url}/.well-known/jwks.json`,
        issuer: es.config.jwt.issuer,
        audience: 'https://another-agent.example',
      });
      await expect(elsewhere(authorization)).rejects.toThrow();
    } finally {
      await es.close();
    }
  });
});

describe('agui agent: through POST /agui and ?format=agui', () => {
  it("the agent's own events reach an AG-UI client as themselves, live and replayed alike", async () => {
    const user = await registerUser(app.url, 'agui-through');
    answer((input) =>
      aguiRun(
        input,
        stateSnapshot({ step: 'draft', items: [] }),
        { type: EventType.STATE_DELTA, delta: [{ op: 'add', path: '/items/-', value: 'a' }] },
        { type: EventType.STEP_STARTED, stepName: 'write' },
        textMessage('m', ['through ', 'agentgate']),
        { type: EventType.STEP_FINISHED, stepName: 'write' },
      ),
    );
    const threadId = randomUUID();
    const runId = randomUUID();
    const body = { threadId, runId, state: {}, tools: [], context: [], forwardedProps: {} };
    const live = await sse(`${app.url}/agui`, {
      method: 'POST',
      token: user.accessToken,
      body: { ...body, messages: [{ id: 'u1', role: 'user', content: 'go' }] },
    });
    expect(await endOf(live, 5_000)).toBe('end');
    const events = aguiEvents(live.events);
    expect(aguiProblems(events)).toEqual([]);
    // (How the answer is cut into TEXT_MESSAGE_CONTENT pieces is the redactor's business: see the echo test.)
    expect(events.filter((e) => e.type !== 'TEXT_MESSAGE_CONTENT').map((e) => e.type)).toEqual([
      'RUN_STARTED',
      'STATE_SNAPSHOT',
      'STATE_DELTA',
      'STEP_STARTED',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_END',
      'STEP_FINISHED',
      'RUN_FINISHED',
    ]);
    expect(
      events
        .filter((e) => e.type === 'TEXT_MESSAGE_CONTENT')
        .map((e) => e.delta)
        .join(''),
    ).toBe('through agentgate');
    expect(events[1]).toMatchObject({ type: 'STATE_SNAPSHOT', snapshot: { step: 'draft', items: [] } });
    // The official client accepts the stream and ends with the agent's state and answer.
    const client = await replayThroughClient(live.events, { threadId, runId });
    expect(textOf(client.messages.at(-1)!)).toBe('through agentgate');

    const replayed = await sse(`${app.url}/runs/${runId}/stream?format=agui`, { token: user.accessToken });
    expect(await endOf(replayed, 5_000)).toBe('end');
    const strip = (list: readonly AguiEvent[]) => list.map(({ timestamp: _t, ...rest }) => rest);
    expect(strip(aguiEvents(replayed.events))).toEqual(strip(events));
    expect(ids(replayed.events)).toEqual(ids(live.events));
  });
});

describe('agui agent: what a review found', () => {
  it('a cancel sent right after the ack never leaves a request to the agent running', async () => {
    const { ws } = await userWithSocket('agui-early-cancel');
    answer((input) => textRun(input, ['warm']));
    const first = await runOnce(ws, 'w', 'warm up');
    const before = fake.requests.length;
    for (let i = 0; i < 5; i++) {
      fake.enqueue({ kind: 'events', events: [], stallAfter: 0 });
      const ack = await send(ws, { id: `c${i}`, text: 'stop at once', threadId: first.ack.threadId });
      ws.send({ type: 'cancel_run', runId: ack.runId });
      expect(await terminalOf(ws, ack.runId)).toMatchObject({ type: 'run_cancelled' });
    }
    await new Promise((r) => setTimeout(r, 300));
    // Each request that went out was closed; the replies no request took are dropped.
    expect(fake.requests.slice(before).every((r) => r.aborted)).toBe(true);
    fake.clearReplies();
  });

  it('RUN_FINISHED ends the run at once, even when the agent keeps its connection open', async () => {
    const { ws } = await userWithSocket('agui-linger');
    fake.enqueue({
      kind: 'script',
      run: async (input, emit, signal) => {
        for (const event of textRun(input, ['done'])) await emit(event);
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      },
    });
    const started = Date.now();
    const { events } = await runOnce(ws, 'l', 'finish and linger');
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'done' });
    expect(Date.now() - started).toBeLessThan(900); // AGENT_TIMEOUT_MS is 1000
    await fake.waitFor((requests) => requests.at(-1)?.aborted === true, 2_000);
  });

  it('a state delta that does not apply says so without quoting the state (which may hold anything)', async () => {
    const { ws } = await userWithSocket('agui-bad-delta');
    answer((input) =>
      aguiRun(input, stateSnapshot({ secret: 'do-not-show-this' }), {
        type: EventType.STATE_DELTA,
        delta: [{ op: 'replace', path: '/missing/deep', value: 1 }],
      }),
    );
    const { events } = await runOnce(ws, 'd', 'break the state');
    expect(events.at(-1)).toMatchObject({ type: 'agent_error', code: 'agent_protocol_error' });
    expect(JSON.stringify(events.at(-1))).not.toContain('do-not-show-this');
  });

  it('one tool call id used twice: the first call is closed tool_result_missing, every call is paired', async () => {
    const { ws } = await userWithSocket('agui-dup-id');
    answer((input) =>
      aguiRun(input, toolCall('same', 'first', {}), toolCall('same', 'second', {}), toolResult('same', '"r"')),
    );
    const { events } = await runOnce(ws, 'u', 'twice');
    expect(bodies(events).filter((e) => e.type.startsWith('tool_'))).toEqual([
      { type: 'tool_executing', toolCallId: 'same', tool: 'first', args: {} },
      expect.objectContaining({
        type: 'tool_completed',
        tool: 'first',
        error: expect.objectContaining({ code: 'tool_result_missing' }),
      }),
      { type: 'tool_executing', toolCallId: 'same', tool: 'second', args: {} },
      expect.objectContaining({ type: 'tool_completed', tool: 'second', result: 'r' }),
    ]);
  });

  it('a tool result given as content parts is their text', async () => {
    const { ws } = await userWithSocket('agui-parts');
    answer((input) =>
      aguiRun(input, toolCall('p1', 'parts', {}), {
        type: EventType.TOOL_CALL_RESULT,
        messageId: 'r-p1',
        toolCallId: 'p1',
        role: 'tool',
        content: [
          { type: 'text', text: '{"a":' },
          { type: 'text', text: '1}' },
        ],
      }),
    );
    const { events } = await runOnce(ws, 'p', 'parts');
    expect(events.find((e) => e.type === 'tool_completed')).toMatchObject({ result: { a: 1 } });
  });

  it('an answer that is not text/event-stream is agent_protocol_error, even when its body reads like SSE', async () => {
    const { ws } = await userWithSocket('agui-ctype');
    // A whole, valid run: as SSE it would complete.
    const ids = { threadId: 't', runId: 'r' };
    const body = [runStarted(ids), { type: EventType.RUN_FINISHED, ...ids }]
      .map((e) => `data: ${JSON.stringify(e)}\n\n`)
      .join('');
    fake.enqueue({ kind: 'raw', contentType: 'text/plain', body });
    const { events } = await runOnce(ws, 'x', 'plain text');
    expect(events.at(-1)).toMatchObject({ type: 'agent_error', code: 'agent_protocol_error' });
  });

  it('thinking and tool names that echo the token are redacted, even split across pieces', async () => {
    const { ws } = await userWithSocket('agui-echo-more');
    fake.enqueue({
      kind: 'script',
      run: async (input, emit) => {
        const token = (fake.requests.at(-1)?.headers.authorization ?? '').slice('Bearer '.length);
        const cut = Math.floor(token.length / 3);
        const reasoning = (delta: string) =>
          ({ type: EventType.REASONING_MESSAGE_CONTENT, messageId: 'r', delta }) as BaseEvent;
        for (const event of aguiRun(
          input,
          { type: EventType.REASONING_START, messageId: 'r' },
          { type: EventType.REASONING_MESSAGE_START, messageId: 'r', role: 'reasoning' },
          reasoning(`I hold ${token.slice(0, cut)}`),
          reasoning(token.slice(cut)),
          { type: EventType.REASONING_MESSAGE_END, messageId: 'r' },
          { type: EventType.REASONING_END, messageId: 'r' },
          toolCall(`id-${token}`, `tool-${token}`, {}),
          toolResult(`id-${token}`, '1'),
        ))
          await emit(event);
      },
    });
    await runOnce(ws, 'e', 'echo more');
    const token = (fake.requests.at(-1)?.headers.authorization ?? '').slice('Bearer '.length);
    expect(JSON.stringify(ws.messages)).not.toContain(token);
    expect(JSON.stringify(ws.messages)).not.toContain(token.slice(Math.floor(token.length / 3)));
  });
});
