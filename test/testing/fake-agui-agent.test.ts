import { HttpAgent } from '@ag-ui/client';
import { EventType, type BaseEvent, type Message, type RunAgentInput } from '@ag-ui/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  aguiRun,
  FakeAguiAgent,
  stateSnapshot,
  textMessage,
  textRun,
  toolCall,
  toolResult,
} from '../../src/testing/agui-agent/index.js';

/** The fake AG-UI agent, driven by the official client: what it streams is what a real AG-UI agent would. */
describe('FakeAguiAgent', { timeout: 5_000 }, () => {
  let fake: FakeAguiAgent;
  beforeAll(async () => {
    fake = await FakeAguiAgent.start();
  });
  afterAll(() => fake.close());
  // Every scripted reply is used: a test that left one would feed the next test.
  afterEach(() => expect(fake.clearReplies()).toBe(0));

  const user: Message = { id: 'u1', role: 'user', content: 'What is 6 x 7?' };
  const agentFor = (): HttpAgent =>
    new HttpAgent({
      url: fake.url,
      threadId: 'thread-1',
      headers: { Authorization: 'Bearer agent-token' },
      initialMessages: [user],
      initialState: { turn: 1 },
    });

  it('streams a run the official client turns into messages and state, and records the RunAgentInput', async () => {
    const ids = { threadId: 'thread-1', runId: 'run-1' };
    fake.enqueue({
      kind: 'events',
      gapMs: 1,
      events: aguiRun(
        ids,
        toolCall('call-1', 'calculator', { expression: '6*7' }, 'msg-1'),
        toolResult('call-1', '42'),
        textMessage('msg-2', ['The answer ', 'is 42.']),
        stateSnapshot({ turn: 2 }),
      ),
    });
    const agent = agentFor();
    const seen = fake.nextRequest(2_000);

    const { newMessages } = await agent.runAgent({ runId: 'run-1' });

    expect(newMessages).toEqual([
      {
        id: 'msg-1',
        role: 'assistant',
        toolCalls: [
          { id: 'call-1', type: 'function', function: { name: 'calculator', arguments: '{"expression":"6*7"}' } },
        ],
      },
      { id: 'result-call-1', role: 'tool', toolCallId: 'call-1', content: '42' },
      { id: 'msg-2', role: 'assistant', content: 'The answer is 42.' },
    ]);
    expect(agent.state).toEqual({ turn: 2 });
    const request = await seen;
    expect(request).toBe(fake.requests[0]);
    expect(request).toMatchObject({ method: 'POST', path: '/agent', aborted: false });
    expect(request.headers).toMatchObject({
      authorization: 'Bearer agent-token',
      accept: 'text/event-stream',
      'content-type': 'application/json',
    });
    expect(request.body).toMatchObject({
      threadId: 'thread-1',
      runId: 'run-1',
      messages: [user],
      state: { turn: 1 },
      tools: [],
      context: [],
    } satisfies Partial<RunAgentInput>);
  });

  it('lets a script answer from the request: the real ids, an echo of the last user message', async () => {
    fake.enqueue({
      kind: 'script',
      run: async (input, send) => {
        const last = input.messages.at(-1);
        const text = last?.role === 'user' && typeof last.content === 'string' ? last.content : '?';
        for (const event of textRun(input, ['echo: ', text])) await send(event);
      },
    });
    const agent = agentFor();

    const { newMessages } = await agent.runAgent({ runId: 'run-2' });

    expect(newMessages).toEqual([{ id: 'msg-run-2', role: 'assistant', content: 'echo: What is 6 x 7?' }]);
  });

  it('keeps a stalled stream open until the client aborts, and records the abort', async () => {
    const ids = { threadId: 'thread-1', runId: 'run-3' };
    fake.enqueue({ kind: 'events', events: textRun(ids, ['Hel', 'lo']), stallAfter: 3 });
    const agent = agentFor();
    const abortController = new AbortController();
    const index = fake.requests.length;
    const errors: string[] = [];
    // The third event is the first content: once it is in, the stream is stalled (and the client still waiting).
    let stalled!: () => void;
    const contentSeen = new Promise<void>((resolve) => (stalled = resolve));
    const running = agent.runAgent(
      { runId: 'run-3', abortController },
      {
        onTextMessageContentEvent: () => stalled(),
        onRunErrorEvent: ({ event }) => void errors.push(`${event.code}: ${event.message}`),
      },
    );
    await contentSeen;
    expect(fake.requests[index]?.aborted).toBe(false);

    const abortedFrom = Date.now();
    abortController.abort();

    const recorded = await fake.waitForAbort(index, 2_000);
    expect(recorded.abortedAt).toBeGreaterThanOrEqual(abortedFrom);
    // The official client reports its own abort as a RUN_ERROR with code 'abort' and resolves with what it had.
    await expect(running).resolves.toEqual({
      result: undefined,
      newMessages: [expect.objectContaining({ content: 'Hel' })],
    });
    expect(errors).toEqual(['abort: This operation was aborted']);
  });

  it('writes events as given, invalid sequences included, with the official SSE encoding', async () => {
    const orphan: BaseEvent = { type: EventType.TEXT_MESSAGE_CONTENT, messageId: 'never-started', delta: 'x' };
    fake.enqueue({ kind: 'events', events: [orphan] });

    const response = await post();

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(await response.text()).toBe(`data: ${JSON.stringify(orphan)}\n\n`);
  });

  it('answers raw bodies and errors exactly as scripted, and a 500 once no reply is left', async () => {
    fake.enqueue(
      { kind: 'raw', contentType: 'text/html', body: '<h1>login</h1>' },
      { kind: 'raw', body: 'data: {not json\n\n' },
      { kind: 'error', status: 401, body: { error: 'bad token' } },
    );

    const html = await post();
    expect([html.status, html.headers.get('content-type'), await html.text()]).toEqual([
      200,
      'text/html',
      '<h1>login</h1>',
    ]);
    const garbage = await post();
    expect([garbage.headers.get('content-type'), await garbage.text()]).toEqual([
      'text/event-stream',
      'data: {not json\n\n',
    ]);
    const denied = await post();
    expect([denied.status, await denied.json()]).toEqual([401, { error: 'bad token' }]);
    const unscripted = await post();
    expect(unscripted.status).toBe(500);
    expect(await unscripted.json()).toEqual({ error: expect.stringContaining('no scripted reply') });
  });

  it('hangs up when told to, and bounds its waits', async () => {
    fake.enqueue({ kind: 'hangup' });
    const before = fake.requests.length;

    await expect(post()).rejects.toThrow(TypeError);

    expect(fake.requests[before]?.aborted).toBe(false);
    await expect(fake.waitForRequests(before + 2, 50)).rejects.toThrow(/not met in 50 ms/);
  });

  function post(): Promise<Response> {
    return fetch(fake.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ threadId: 't', runId: 'r', messages: [], tools: [], context: [] }),
      signal: AbortSignal.timeout(2_000),
    });
  }
});
