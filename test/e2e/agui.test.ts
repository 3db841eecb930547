import { randomUUID } from 'node:crypto';
import {
  EventType,
  HttpAgent,
  type AssistantMessage,
  type BaseEvent,
  type Message,
  type ToolMessage,
} from '@ag-ui/client';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { registerUser, request } from '../../src/testing/index.js';
import {
  aguiEvents,
  aguiProblems,
  dripScript,
  dripText,
  replayThroughClient,
  textOf,
  type AguiEvent,
} from './helpers/agui.js';
import {
  commonScripts,
  eventually,
  isRunEvent,
  range,
  send,
  threadRuns,
  useScriptedApp,
  type Script,
  type User,
} from './helpers/runs.js';
import { abortOpenStreams, endOf, ids, refused, sse, type SseOptions, type SseStream } from './helpers/sse.js';

const scripts: Record<string, Script> = {
  ...commonScripts,
  drip: dripScript,
  /** Answers with the thread history the agent was given: "role: text | role: text". */
  history: async (req, io) => {
    const text = `history: ${req.history.map((h) => `${h.role}: ${h.text}`).join(' | ')}`;
    io.delta(text);
    return { text };
  },
};

const server = useScriptedApp({ MAX_RUNS_PER_USER: '20' }, scripts);
afterAll(abortOpenStreams);

type ThreadMessage = { id: string; role: string; text: string; runId: string };

/** A RunAgentInput whose last message is the user's `text`. */
function runInput(threadId: string, runId: string, text: string, earlier: unknown[] = []): Record<string, unknown> {
  return {
    threadId,
    runId,
    messages: [...earlier, { id: randomUUID(), role: 'user', content: text }],
    tools: [],
    context: [],
    state: {},
    forwardedProps: {},
  };
}

const postAgui = (user: User, body: unknown, options: SseOptions = {}): Promise<SseStream> =>
  sse(`${server.app.url}/agui`, { method: 'POST', token: user.accessToken, body, ...options });
const refusedAgui = (user: User | undefined, body: unknown) =>
  refused(`${server.app.url}/agui`, {
    method: 'POST',
    body,
    ...(user === undefined ? {} : { token: user.accessToken }),
  });

async function messagesOf(user: User, threadId: string): Promise<ThreadMessage[]> {
  const res = await request<{ messages: ThreadMessage[] }>(server.app.url, 'GET', `/threads/${threadId}/messages`, {
    token: user.accessToken,
  });
  expect(res.status).toBe(200);
  return res.body.messages;
}

async function storedEvents(user: User, runId: string): Promise<{ status: string; events: RunEvent[] }> {
  const res = await request<{ status: string; events: RunEvent[] }>(server.app.url, 'GET', `/runs/${runId}/events`, {
    token: user.accessToken,
  });
  expect(res.status).toBe(200);
  return res.body;
}

const isToolCaller = (m: Message): m is AssistantMessage => m.role === 'assistant' && (m.toolCalls?.length ?? 0) > 0;
const isTool = (m: Message): m is ToolMessage => m.role === 'tool';

/** Console output from @ag-ui/client ("[ag-ui] ...", "Agent execution failed") during a test. */
function watchClientConsole(): () => string[] {
  const warn = vi.spyOn(console, 'warn');
  const error = vi.spyOn(console, 'error');
  return () => [...warn.mock.calls, ...error.mock.calls].map((args) => args.map(String).join(' '));
}
afterEach(() => vi.restoreAllMocks());

describe('POST /agui', () => {
  it('the official HttpAgent runs "calculate 12*7" without a validation error: a calculator tool call, its result 84, an answer with 84; the run is in the thread', async () => {
    const user = await registerUser(server.app.url, 'agui-calc');
    const consoleLines = watchClientConsole();
    const threadId = randomUUID();
    const runId = randomUUID();
    const agent = new HttpAgent({
      url: `${server.app.url}/agui`,
      headers: { Authorization: `Bearer ${user.accessToken}` },
      threadId,
    });
    agent.addMessage({ id: randomUUID(), role: 'user', content: 'calculate 12*7' });
    const seen: BaseEvent[] = [];
    const { newMessages } = await agent.runAgent(
      { runId, tools: [], context: [] },
      { onEvent: ({ event }) => void seen.push(event) },
    );

    expect(consoleLines()).toEqual([]);
    expect(seen[0]).toMatchObject({ type: 'RUN_STARTED', threadId, runId });
    expect(seen.at(-1)).toMatchObject({ type: 'RUN_FINISHED', threadId, runId, outcome: { type: 'success' } });
    expect(aguiProblems(seen as unknown as AguiEvent[])).toEqual([]);

    const caller = newMessages.find(isToolCaller);
    const call = caller?.toolCalls?.[0];
    expect(call?.function.name).toBe('calculator');
    expect(JSON.parse(call?.function.arguments ?? '{}')).toEqual({ expression: '12*7' });
    const result = newMessages.find(isTool);
    expect(result?.toolCallId).toBe(call?.id);
    expect(JSON.parse(textOf(result ?? { id: '', role: 'tool', content: '{}', toolCallId: '' }))).toMatchObject({
      result: 84,
    });
    const answers = newMessages.filter((m) => m.role === 'assistant' && textOf(m) !== '').map(textOf);
    expect(answers).toEqual(['12*7 = 84']);
    expect(
      agent.messages
        .filter((m) => m.role === 'reasoning')
        .map(textOf)
        .join(' '),
    ).toMatch(/calculator/);

    await eventually(
      async () =>
        (await threadRuns(server.app, user, threadId)).some((r) => r.id === runId && r.status === 'completed'),
      5_000,
      'run completed',
    );
    expect(await threadRuns(server.app, user, threadId)).toEqual([
      expect.objectContaining({ id: runId, status: 'completed', errorCode: null }),
    ]);
    expect(await messagesOf(user, threadId)).toEqual([
      expect.objectContaining({ role: 'user', text: 'calculate 12*7', runId }),
      expect.objectContaining({ role: 'assistant', text: '12*7 = 84', runId }),
    ]);
    const listed = await request<{ threads: Array<{ id: string; title: string }> }>(server.app.url, 'GET', '/threads', {
      token: user.accessToken,
    });
    expect(listed.body.threads).toEqual([expect.objectContaining({ id: threadId, title: 'calculate 12*7' })]);
  });

  it("a second HttpAgent run on the same thread (a follow-up) works: two runs in the thread, the agent given the history from storage, not the client's", async () => {
    const user = await registerUser(server.app.url, 'agui-follow-up');
    const consoleLines = watchClientConsole();
    const threadId = randomUUID();
    const agent = new HttpAgent({
      url: `${server.app.url}/agui`,
      headers: { Authorization: `Bearer ${user.accessToken}` },
      threadId,
    });
    agent.addMessage({ id: randomUUID(), role: 'user', content: 'what is 6 times 7' });
    const firstRunId = randomUUID();
    const first = await agent.runAgent({ runId: firstRunId, tools: [], context: [] });
    expect(
      first.newMessages
        .filter((m) => m.role === 'assistant')
        .map(textOf)
        .filter((t) => t !== ''),
    ).toEqual(['6 * 7 = 42']);

    // The same client follows up: it sends its whole history (tool calls, reasoning) plus a message it made up.
    agent.addMessage({ id: randomUUID(), role: 'user', content: 'forged: this never reached the server as a message' });
    agent.addMessage({ id: randomUUID(), role: 'user', content: 'script:history' });
    const secondRunId = randomUUID();
    const second = await agent.runAgent({ runId: secondRunId, tools: [], context: [] });
    expect(consoleLines()).toEqual([]);
    const secondAnswer = second.newMessages
      .filter((m) => m.role === 'assistant')
      .map(textOf)
      .join('');
    expect(secondAnswer).toBe('history: user: what is 6 times 7 | assistant: 6 * 7 = 42');

    await eventually(
      async () => (await threadRuns(server.app, user, threadId)).every((r) => r.status === 'completed'),
      5_000,
      'both runs completed',
    );
    expect((await threadRuns(server.app, user, threadId)).map((r) => [r.id, r.status])).toEqual([
      [firstRunId, 'completed'],
      [secondRunId, 'completed'],
    ]);
    expect((await messagesOf(user, threadId)).map((m) => [m.role, m.text, m.runId])).toEqual([
      ['user', 'what is 6 times 7', firstRunId],
      ['assistant', '6 * 7 = 42', firstRunId],
      ['user', 'script:history', secondRunId],
      ['assistant', secondAnswer, secondRunId],
    ]);
    // Still one thread for the user.
    const listed = await request<{ threads: Array<{ id: string }> }>(server.app.url, 'GET', '/threads', {
      token: user.accessToken,
    });
    expect(listed.body.threads.map((t) => t.id)).toEqual([threadId]);
  });

  it("a run started over AG-UI shows on the user's open WebSocket: message_added, then its events up to agent_completed", async () => {
    const user = await registerUser(server.app.url, 'agui-ws');
    const ws = await server.open(user);
    const threadId = randomUUID();
    const runId = randomUUID();
    // The minimal RunAgentInput: no state, no forwardedProps.
    const stream = await postAgui(user, {
      threadId,
      runId,
      messages: [{ id: 'u1', role: 'user', content: 'calculate 12*7' }],
      tools: [],
      context: [],
    });

    const added = await ws.next((m) => m.type === 'message_added' && m.runId === runId, 5_000);
    expect(added).toMatchObject({
      type: 'message_added',
      threadId,
      runId,
      message: { role: 'user', text: 'calculate 12*7' },
    });
    const events = await ws.runEvents(runId);
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: '12*7 = 84' });
    expect(verifyRunEvents(events)).toEqual([]);
    expect(ws.messages.indexOf(added)).toBeLessThan(ws.messages.findIndex((m) => isRunEvent(m) && m.runId === runId));
    expect(events.map((e) => e.seq)).toEqual(range(1, events.length));
    expect((await storedEvents(user, runId)).events).toEqual(events);

    expect(await endOf(stream, 5_000)).toBe('end');
    // The AG-UI stream carried the same run: one id per seq that has an AG-UI counterpart.
    expect(new Set(ids(stream.events))).toEqual(new Set(range(1, events.length)));
    expect(aguiProblems(aguiEvents(stream.events))).toEqual([]);
  });

  it("refusals: 401 without a token, 400 for invalid RunAgentInput, 404 for another user's threadId or runId, and no run is started", async () => {
    const [user, other] = await Promise.all([
      registerUser(server.app.url, 'agui-refused'),
      registerUser(server.app.url, 'agui-victim'),
    ]);
    const otherWs = await server.open(other);
    const victim = await send(otherWs, { id: 'victim', text: 'calculate 1+1' });
    const victimEvents = await otherWs.runEvents(victim.runId);
    const victimMessages = await messagesOf(other, victim.threadId);

    const noToken = await refusedAgui(undefined, runInput(randomUUID(), randomUUID(), 'calculate 1+2'));
    expect(noToken.status).toBe(401);
    expect(JSON.parse(noToken.text)).toMatchObject({ error: { code: 'unauthorized' } });

    const { messages: _dropped, ...noMessages } = runInput(randomUUID(), randomUUID(), 'x');
    const invalid: Array<[string, unknown]> = [
      ['no messages', noMessages],
      ['empty messages', { ...runInput(randomUUID(), randomUUID(), 'x'), messages: [] }],
      [
        'last message from the assistant',
        {
          ...runInput(randomUUID(), randomUUID(), 'x'),
          messages: [
            { id: 'u', role: 'user', content: 'hi' },
            { id: 'a', role: 'assistant', content: 'hello' },
          ],
        },
      ],
      [
        'last message from a tool',
        {
          ...runInput(randomUUID(), randomUUID(), 'x'),
          messages: [{ id: 't', role: 'tool', content: '1', toolCallId: 'c' }],
        },
      ],
      ['blank user text', runInput(randomUUID(), randomUUID(), '   ')],
      ['no threadId', { ...runInput(randomUUID(), randomUUID(), 'x'), threadId: undefined }],
      ['empty runId', runInput(randomUUID(), '', 'x')],
      ['runId too long', runInput(randomUUID(), 'r'.repeat(129), 'x')],
      ['not an object', 'calculate 12*7'],
    ];
    for (const [what, body] of invalid) {
      const res = await refusedAgui(user, body);
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'invalid_request' } });
    }

    // Another user's thread: 404, and nothing lands in it.
    const intoForeignThread = randomUUID();
    const foreignThread = await refusedAgui(user, runInput(victim.threadId, intoForeignThread, 'calculate 2+2'));
    expect(foreignThread.status).toBe(404);
    expect(JSON.parse(foreignThread.text)).toMatchObject({ error: { code: 'not_found' } });
    expect(await messagesOf(other, victim.threadId)).toEqual(victimMessages);
    expect(await threadRuns(server.app, other, victim.threadId)).toHaveLength(1);
    for (const who of [user, other])
      expect(
        (await request(server.app.url, 'GET', `/runs/${intoForeignThread}/events`, { token: who.accessToken })).status,
      ).toBe(404);

    // Another user's run: 404, and it is not replayed, joined or changed; the new thread it named is not created.
    const threadsBefore = (
      await request<{ threads: unknown[] }>(server.app.url, 'GET', '/threads', { token: user.accessToken })
    ).body.threads;
    const foreignRun = await refusedAgui(user, runInput(randomUUID(), victim.runId, 'calculate 3+3'));
    expect(
      (await request<{ threads: unknown[] }>(server.app.url, 'GET', '/threads', { token: user.accessToken })).body
        .threads,
    ).toEqual(threadsBefore);
    expect(foreignRun.status).toBe(404);
    expect(JSON.parse(foreignRun.text)).toMatchObject({ error: { code: 'not_found' } });
    expect(foreignRun.text).not.toContain('calculate 1+1');
    expect((await storedEvents(other, victim.runId)).events).toEqual(victimEvents);
    expect(await messagesOf(other, victim.threadId)).toEqual(victimMessages);

    // The caller's own run under another thread: 400.
    const ownThreadId = randomUUID();
    const ownRunId = randomUUID();
    const own = await postAgui(user, runInput(ownThreadId, ownRunId, 'calculate 4+4'));
    expect(await endOf(own, 5_000)).toBe('end');
    const moved = await refusedAgui(user, runInput(randomUUID(), ownRunId, 'calculate 4+4'));
    expect(moved.status).toBe(400);
    expect(JSON.parse(moved.text)).toMatchObject({ error: { code: 'invalid_request' } });

    // None of the refused requests started a run: the caller's only run is the one it made on purpose.
    const threads = (
      await request<{ threads: Array<{ id: string }> }>(server.app.url, 'GET', '/threads', { token: user.accessToken })
    ).body.threads;
    const runsOfUser = (await Promise.all(threads.map((t) => threadRuns(server.app, user, t.id)))).flat();
    expect(runsOfUser.map((r) => r.id)).toEqual([ownRunId]);
    expect(otherWs.messages.filter((m) => m.type === 'message_added')).toHaveLength(1);
  });

  it('a WebSocket message id cannot pose as an AG-UI run id: a user_message with id "agui:<X>" does not stop POST /agui with runId X from starting its run', async () => {
    const user = await registerUser(server.app.url, 'agui-namespace');
    const ws = await server.open(user);
    const runId = randomUUID();
    const first = await send(ws, { id: `agui:${runId}`, text: 'calculate 1+1' });
    await ws.runEvents(first.runId);
    const stream = await postAgui(user, runInput(randomUUID(), runId, 'calculate 2+2'));
    expect(await endOf(stream, 10_000)).toBe('end');
    const events = aguiEvents(stream.events);
    expect(events[0]).toMatchObject({ type: EventType.RUN_STARTED, runId });
    expect(events.at(-1)).toMatchObject({ type: EventType.RUN_FINISHED, runId });
  });

  it('re-POSTing the same RunAgentInput (same runId) starts nothing new: the same events again, one run in the thread, also while it runs and when sent twice at once', async () => {
    const user = await registerUser(server.app.url, 'agui-repost');
    const threadId = randomUUID();
    const runId = randomUUID();
    const body = runInput(threadId, runId, 'calculate 12*7');
    const first = await postAgui(user, body);
    expect(await endOf(first, 5_000)).toBe('end');
    expect(aguiProblems(aguiEvents(first.events))).toEqual([]);
    const again = await postAgui(user, body);
    expect(await endOf(again, 5_000)).toBe('end');
    expect(again.events).toEqual(first.events);
    // Even with a different message list: the runId decides.
    const retried = await postAgui(user, runInput(threadId, runId, 'something else entirely'));
    expect(await endOf(retried, 5_000)).toBe('end');
    expect(retried.events).toEqual(first.events);
    expect(await threadRuns(server.app, user, threadId)).toEqual([
      expect.objectContaining({ id: runId, status: 'completed' }),
    ]);
    expect((await messagesOf(user, threadId)).map((m) => [m.role, m.text])).toEqual([
      ['user', 'calculate 12*7'],
      ['assistant', '12*7 = 84'],
    ]);

    // While the run is in progress: the second POST streams it from the start and follows it to the end.
    const liveThread = randomUUID();
    const liveRun = randomUUID();
    const liveBody = runInput(liveThread, liveRun, 'script:drip 30 20');
    const [a, b] = await Promise.all([postAgui(user, liveBody), postAgui(user, liveBody)]);
    await a.next((e) => Number(e.id) >= 8, 5_000);
    const c = await postAgui(user, liveBody);
    expect((await storedEvents(user, liveRun)).status).toBe('running');
    for (const s of [a, b, c]) expect(await endOf(s, 10_000)).toBe('end');
    expect(b.events).toEqual(a.events);
    expect(c.events).toEqual(a.events);
    expect(aguiProblems(aguiEvents(a.events))).toEqual([]);
    expect(await threadRuns(server.app, user, liveThread)).toEqual([
      expect.objectContaining({ id: liveRun, status: 'completed' }),
    ]);
    expect((await messagesOf(user, liveThread)).map((m) => m.role)).toEqual(['user', 'assistant']);
  });

  it('cut mid-run and resumed: POST /agui aborted after some events, then GET /runs/:runId/stream?format=agui with Last-Event-ID gives the rest, no duplicate, no gap', async () => {
    const user = await registerUser(server.app.url, 'agui-cut');
    const threadId = randomUUID();
    const runId = randomUUID();
    const first = await postAgui(user, runInput(threadId, runId, 'script:drip 60 20'), {
      cutWhen: (events) => events.length >= 14,
    });
    expect(await endOf(first, 10_000)).toBe('cut');
    const lastId = first.events.at(-1)?.id ?? '';
    const firstTypes = aguiEvents(first.events).map((e) => e.type);
    expect(firstTypes[0]).toBe('RUN_STARTED');
    expect(firstTypes).toContain('TEXT_MESSAGE_CONTENT');
    expect(firstTypes).not.toContain('RUN_FINISHED');
    // Cutting the POST does not stop the run.
    expect((await storedEvents(user, runId)).status).toBe('running');
    await eventually(
      async () => (await storedEvents(user, runId)).events.length >= Number(lastId) + 5,
      5_000,
      'more events while disconnected',
    );

    const rest = await sse(`${server.app.url}/runs/${runId}/stream?format=agui`, {
      token: user.accessToken,
      headers: { 'last-event-id': lastId },
    });
    expect(await endOf(rest, 15_000)).toBe('end');
    const union = [...first.events, ...rest.events];
    const unionIds = ids(union);
    expect(unionIds).toEqual([...unionIds].sort((x, y) => x - y));
    expect(ids(rest.events).every((id) => id > Number(lastId))).toBe(true);
    expect(new Set(union.map((e) => `${e.id}\n${e.data}`)).size).toBe(union.length);
    const stored = await storedEvents(user, runId);
    expect(stored.status).toBe('completed');
    expect(new Set(unionIds)).toEqual(new Set(range(1, stored.events.length)));

    const events = aguiEvents(union);
    expect(aguiProblems(events)).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'RUN_FINISHED', threadId, runId, outcome: { type: 'success' } });
    // Identical to an uncut stream of the same run (a re-POST replays it from the start).
    const whole = await postAgui(user, runInput(threadId, runId, 'script:drip 60 20'));
    expect(await endOf(whole, 5_000)).toBe('end');
    expect(union).toEqual(whole.events);
    const replay = await replayThroughClient(union, { threadId, runId });
    expect(
      replay.newMessages
        .filter((m) => m.role === 'assistant')
        .map(textOf)
        .filter((t) => t !== ''),
    ).toEqual([dripText(1, 30), dripText(31, 60)]);
  });

  it('cancel: a "wait 30 seconds" run over /agui cancelled with POST /runs/:id/cancel ends the stream with RUN_FINISHED outcome cancelled; cancel_run over the WebSocket does the same for a live HttpAgent', async () => {
    const user = await registerUser(server.app.url, 'agui-cancel');
    const threadId = randomUUID();
    const runId = randomUUID();
    const stream = await postAgui(user, runInput(threadId, runId, 'wait 30 seconds'), { timeoutMs: 15_000 });
    const start = await stream.next((e) => (JSON.parse(e.data) as AguiEvent).type === 'TOOL_CALL_START', 5_000);
    const toolCallId = (JSON.parse(start.data) as AguiEvent).toolCallId;
    expect(JSON.parse(start.data)).toMatchObject({ toolCallName: 'wait' });

    const t0 = Date.now();
    const cancel = await request(server.app.url, 'POST', `/runs/${runId}/cancel`, { token: user.accessToken });
    expect(cancel.status).toBe(202);
    expect(await endOf(stream, 5_000)).toBe('end');
    expect(Date.now() - t0).toBeLessThan(5_000);
    const events = aguiEvents(stream.events);
    expect(events.at(-1)).toMatchObject({ type: 'RUN_FINISHED', threadId, runId, outcome: { type: 'cancelled' } });
    expect(events.filter((e) => e.type === 'RUN_FINISHED' || e.type === 'RUN_ERROR')).toHaveLength(1);
    expect(events.find((e) => e.type === 'TOOL_CALL_RESULT')).toMatchObject({ toolCallId });
    expect(aguiProblems(events)).toEqual([]);
    await replayThroughClient(stream.events, { threadId, runId });
    await eventually(
      async () => (await threadRuns(server.app, user, threadId))[0]?.status === 'cancelled',
      5_000,
      'run cancelled',
    );
    expect((await storedEvents(user, runId)).events.at(-1)?.type).toBe('run_cancelled');

    // The official client, live, while the run is cancelled from a WebSocket.
    const consoleLines = watchClientConsole();
    const ws = await server.open(user);
    const agent = new HttpAgent({
      url: `${server.app.url}/agui`,
      headers: { Authorization: `Bearer ${user.accessToken}` },
      threadId,
    });
    agent.addMessage({ id: randomUUID(), role: 'user', content: 'wait 30 seconds' });
    const secondRunId = randomUUID();
    const seen: BaseEvent[] = [];
    const t1 = Date.now();
    await agent.runAgent(
      { runId: secondRunId, tools: [], context: [] },
      {
        onEvent: ({ event }) => {
          seen.push(event);
          if (event.type === EventType.TOOL_CALL_START)
            ws.send({ type: 'cancel_run', id: 'cancel', runId: secondRunId });
        },
      },
    );
    expect(Date.now() - t1).toBeLessThan(10_000);
    expect(consoleLines()).toEqual([]);
    expect(seen.at(-1)).toMatchObject({ type: 'RUN_FINISHED', runId: secondRunId, outcome: { type: 'cancelled' } });
    expect((await ws.runEvents(secondRunId)).at(-1)?.type).toBe('run_cancelled');
    await eventually(
      async () => (await threadRuns(server.app, user, threadId)).map((r) => r.status).join() === 'cancelled,cancelled',
      5_000,
      'both runs cancelled',
    );
  });
});
