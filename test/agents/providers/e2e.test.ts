import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/app/index.js';
import { verifyRunEvents, type RunEvent } from '../../../src/protocol/index.js';
import { anthropicReply, FakeLlmServer, openAiReply, type FakeReply } from '../../../src/testing/fake-llm/index.js';
import { createTestApp, registerUser, request, type TestApp } from '../../../src/testing/index.js';
import { connect, eventOf, send, terminalOf, type Of, type User } from '../../e2e/helpers/runs.js';
import { anthropic, API_KEY, openai, type Dialect } from './helpers.js';

/**
 * Through the front door: a real agentgate server whose agent is built from LLM_* settings pointing at a fake model
 * API, a real user and a real WebSocket. One block per provider.
 */
const thinkThenCalculate: Record<'openai' | 'anthropic', FakeReply> = {
  openai: openAiReply(
    {
      reasoning: ['The user wants 12*7.\n', 'I will use the calculator.'],
      toolCalls: [{ id: 'call_calc', name: 'calculator', argumentChunks: ['{"expr', 'ession": "12', '*7"}'] }],
      usage: { prompt: 100, completion: 20 },
    },
    { split: 'awkward' },
  ),
  anthropic: anthropicReply(
    {
      thinking: { chunks: ['The user wants 12*7.\n', 'I will use the calculator.'], signature: 'sig-calc' },
      toolUses: [{ id: 'toolu_calc', name: 'calculator', jsonChunks: ['{"expr', 'ession": "12', '*7"}'] }],
      usage: { input: 100, output: 20 },
    },
    { split: 'awkward' },
  ),
};

describe.each([openai, anthropic])('agentgate with LLM_PROVIDER=$protocol', (dialect: Dialect) => {
  let fake: FakeLlmServer;
  let app: TestApp;
  let user: User;
  const logLines: string[] = [];

  beforeAll(async () => {
    fake = await FakeLlmServer.start(dialect.protocol);
    const logs = new Writable({ write: (chunk: Buffer, _enc, done) => (logLines.push(chunk.toString()), done()) });
    app = await createTestApp(
      {
        LLM_PROVIDER: dialect.protocol,
        LLM_BASE_URL: fake.url,
        LLM_API_KEY: API_KEY,
        LLM_MODEL: 'fake-model',
        LLM_TIMEOUT_MS: '5000',
        LLM_MAX_RETRIES: '1',
        LLM_TOKEN_BUDGET_PER_USER: '400',
      },
      // The app's own logger (with its redaction), at the most verbose level, so every line can be searched.
      { logger: createLogger({ logLevel: 'trace' }, logs) },
    );
    user = await registerUser(app.url, `llm-${dialect.protocol}`);
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
  });

  it('streams thinking, a calculator call from fragmented arguments, the answer and usage as run events', async () => {
    const ws = await connect(app, user);
    fake.enqueue(
      thinkThenCalculate[dialect.protocol],
      dialect.text(['12*7 ', '= 84'], { split: 'awkward', usage: { input: 150, output: 8 } }),
    );
    const before = fake.requests.length;
    const ack = await send(ws, { id: 'calc', text: 'what is 12*7?' });
    const events = await ws.runEvents(ack.runId, 15_000);
    ws.close();
    expect(verifyRunEvents(events)).toEqual([]);
    expect(events[0]).toMatchObject({ type: 'agent_started', agent: `${dialect.protocol}:fake-model` });
    expect(events.filter((e): e is Of<'agent_thinking'> => e.type === 'agent_thinking').map((e) => e.text)).toEqual([
      'The user wants 12*7.',
      'I will use the calculator.',
    ]);
    const executing = events.find((e): e is Of<'tool_executing'> => e.type === 'tool_executing');
    const completed = events.find((e): e is Of<'tool_completed'> => e.type === 'tool_completed');
    expect(executing).toMatchObject({ tool: 'calculator', args: { expression: '12*7' } });
    expect(completed).toMatchObject({
      toolCallId: executing?.toolCallId,
      tool: 'calculator',
      result: { expression: '12*7', result: 84 },
    });
    const deltas = events
      .filter((e): e is Of<'agent_message_delta'> => e.type === 'agent_message_delta')
      .map((e) => e.text);
    expect(deltas.join('')).toBe('12*7 = 84');
    expect(events.at(-1)).toMatchObject({
      type: 'agent_completed',
      text: '12*7 = 84',
      usage: { inputTokens: 250, outputTokens: 28 },
    });
    // The second request carries the calculator's result, in the provider's tool-result format.
    const followUp = JSON.stringify(fake.requests[before + 1]?.body);
    expect(followUp).toContain(
      dialect.protocol === 'openai'
        ? '"role":"tool","tool_call_id":"call_calc"'
        : '"type":"tool_result","tool_use_id":"toolu_calc"',
    );
    expect(followUp).toContain('\\"result\\":84');
  });

  it("sends the thread's earlier messages with the next one", async () => {
    const ws = await connect(app, user);
    fake.enqueue(dialect.text(['Nice to meet you, Ada.']), dialect.text(['You are Ada.']));
    const first = await send(ws, { id: 'hist-1', text: 'I am Ada.' });
    await terminalOf(ws, first.runId);
    const before = fake.requests.length;
    const second = await send(ws, { id: 'hist-2', text: 'Who am I?', threadId: first.threadId });
    expect(await terminalOf(ws, second.runId)).toMatchObject({ type: 'agent_completed', text: 'You are Ada.' });
    ws.close();
    const messages = (
      fake.requests[before]?.body as { messages: Array<{ role: string; content: unknown }> }
    ).messages.filter((m) => m.role !== 'system');
    const text = (content: unknown): string =>
      typeof content === 'string' ? content : (content as Array<{ text: string }>).map((b) => b.text).join('');
    expect(messages.map((m) => [m.role, text(m.content)])).toEqual([
      ['user', 'I am Ada.'],
      ['assistant', 'Nice to meet you, Ada.'],
      ['user', 'Who am I?'],
    ]);
  });

  it('cancel_run mid-stream: the model request is aborted and the run ends run_cancelled', async () => {
    const ws = await connect(app, user);
    const reply = dialect.text(['Thinking out loud', ' forever']);
    if (reply.kind !== 'stream') throw new TypeError('stream expected');
    fake.enqueue({ ...reply, stallAfterBytes: reply.body.lastIndexOf('\n\n', reply.body.indexOf(' forever')) + 2 });
    const ack = await send(ws, { id: 'cancel', text: 'talk forever' });
    await eventOf(ws, ack.runId, 'agent_message_delta');
    ws.send({ type: 'cancel_run', runId: ack.runId });
    expect(await terminalOf(ws, ack.runId, 3_000)).toMatchObject({ type: 'run_cancelled' });
    ws.close();
    await fake.waitFor((all) => all.at(-1)?.aborted === true, 3_000);
  });

  it('a model API that keeps failing ends the run with agent_error llm_unavailable', async () => {
    const ws = await connect(app, user);
    fake.enqueue(
      dialect.error(503, 'api_error', { 'retry-after-ms': '10' }),
      dialect.error(503, 'api_error', { 'retry-after-ms': '10' }),
    );
    const ack = await send(ws, { id: 'down', text: 'hello?' });
    expect(await terminalOf(ws, ack.runId)).toMatchObject({ type: 'agent_error', code: 'llm_unavailable' });
    ws.close();
  });

  it('past the token budget the run ends token_budget_exceeded, before any request, saying when it resets', async () => {
    // The earlier tests used 310-340 of this user's 400 tokens; this run (checked while still under) takes the rest.
    const ws = await connect(app, user);
    fake.enqueue(dialect.text(['spent'], { usage: { input: 200, output: 50 } }));
    const spend = await send(ws, { id: 'spend', text: 'spend it' });
    expect(await terminalOf(ws, spend.runId)).toMatchObject({ type: 'agent_completed' });
    const before = fake.requests.length;
    const ack = await send(ws, { id: 'over', text: 'one more' });
    const terminal = (await terminalOf(ws, ack.runId)) as Of<'agent_error'>;
    ws.close();
    expect(terminal).toMatchObject({ type: 'agent_error', code: 'token_budget_exceeded' });
    expect(terminal.message).toMatch(/resets at \d{4}-\d\d-\d\dT00:00:00\.000Z/);
    expect(fake.requests.length).toBe(before);
    // Another user has a budget of their own.
    const other = await registerUser(app.url, `llm-other-${dialect.protocol}`);
    const otherWs = await connect(app, other);
    fake.enqueue(dialect.text(['fresh budget']));
    const fresh = await send(otherWs, { id: 'fresh', text: 'hello' });
    expect(await terminalOf(otherWs, fresh.runId)).toMatchObject({ type: 'agent_completed', text: 'fresh budget' });
    otherWs.close();
  });

  it('the API key reached the model API, and never a log line, an event or the stored events', async () => {
    expect(fake.requests.length).toBeGreaterThan(0);
    expect(
      fake.requests.every((r) =>
        `${String(r.headers['x-api-key'] ?? '')}${String(r.headers.authorization ?? '')}`.includes(API_KEY),
      ),
    ).toBe(true);
    expect(logLines.length).toBeGreaterThan(10);
    expect(logLines.join('')).toContain('model step failed');
    expect(logLines.join('')).not.toContain(API_KEY);
    const threads = await request<{ threads: Array<{ id: string }> }>(app.url, 'GET', '/threads', {
      token: user.accessToken,
    });
    const stored: RunEvent[] = [];
    for (const thread of threads.body.threads) {
      const runs = await request<{ thread: { runs: Array<{ id: string }> } }>(app.url, 'GET', `/threads/${thread.id}`, {
        token: user.accessToken,
      });
      for (const run of runs.body.thread?.runs ?? [])
        stored.push(
          ...(
            await request<{ events: RunEvent[] }>(app.url, 'GET', `/runs/${run.id}/events`, { token: user.accessToken })
          ).body.events,
        );
    }
    expect(stored.length).toBeGreaterThan(10);
    expect(JSON.stringify(stored)).not.toContain(API_KEY);
    expect(JSON.stringify(stored)).not.toContain('SECRET');
  });
});
