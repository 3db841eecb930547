import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEncoder } from '@ag-ui/encoder';
import type { RunAgentInput } from '@ag-ui/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agentTokenVerifier, type AgentgateCaller } from '../../docs/examples/verify-agent-token.js';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { FakeLlmServer, openAiReply } from '../../src/testing/fake-llm/index.js';
import { createTestApp, registerUser, request, type TestApp, type TestSocket } from '../../src/testing/index.js';
import { connect, runToEnd, send, settle, terminalOf, watchUnhandledRejections, type User } from './helpers/runs.js';

/**
 * LLM_PROVIDER=agui with a real agent framework behind it: CopilotKit's BuiltInAgent (@copilotkitnext/agent, on the
 * Vercel AI SDK) served over AG-UI by a plain node:http server, answering with a local fake OpenAI-compatible model.
 * The server checks the agent token with docs/examples/verify-agent-token.ts, as docs/AGENTS.md tells a team to.
 */

type FrameworkInput = RunAgentInput;

/**
 * The few members of the framework this test uses. The packages are loaded untyped: their own types (a nested zod
 * 3, an older @ag-ui/client, the AI SDK's) made the type-aware lint of the whole project run out of memory.
 */
interface FrameworkAgent {
  run(input: FrameworkInput): {
    subscribe(observer: { next(event: unknown): void; error(err: unknown): void; complete(): void }): {
      unsubscribe(): void;
    };
  };
  abortRun(): void;
}
interface CopilotKitAgentModule {
  BuiltInAgent: new (options: {
    model: unknown;
    prompt: string;
    tools: unknown[];
    maxSteps: number;
    maxRetries: number;
  }) => FrameworkAgent;
  defineTool(tool: {
    name: string;
    description: string;
    parameters: unknown;
    execute(args: unknown): Promise<unknown>;
  }): unknown;
}
interface OpenAiCompatibleModule {
  createOpenAICompatible(options: { name: string; baseURL: string; apiKey: string }): {
    chatModel(id: string): unknown;
  };
}
const untyped = (name: string): Promise<unknown> => import(name);
const { BuiltInAgent, defineTool } = (await untyped('@copilotkitnext/agent')) as CopilotKitAgentModule;
const { createOpenAICompatible } = (await untyped('@ai-sdk/openai-compatible')) as OpenAiCompatibleModule;

interface FrameworkRequest {
  readonly authorization: string | undefined;
  readonly accept: string | undefined;
  /** The RunAgentInput (undefined when the request was refused before reading it as JSON). */
  readonly input: FrameworkInput | undefined;
  /** Who the verified agent token says the request is for; undefined when it was refused (401). */
  readonly caller: AgentgateCaller | undefined;
  readonly status: number;
}

/**
 * The team's own agent, as a framework builds it: one tool and a system prompt, on an OpenAI-compatible model.
 * The AI SDK takes the zod 4 schema at run time; the arguments are parsed with it again to type them here.
 */
const City = z.object({ city: z.string().describe('The city') });
const weather = defineTool({
  name: 'get_weather',
  description: 'The current weather in a city.',
  parameters: City,
  execute: async (args: unknown) => ({ city: City.parse(args).city, temperatureC: 21, sky: 'clear' }),
});
const PROMPT = 'You are a helpful assistant.';

let llm: FakeLlmServer;
let framework: Server;
let agentUrl: string;
let app: TestApp;
/** Set once the app is up: the JWKS lives on the app, and the app needs the framework's URL first. */
let verify: ((authorization: string | undefined) => Promise<AgentgateCaller>) | undefined;
const received: FrameworkRequest[] = [];
const sockets: TestSocket[] = [];
let rejections: ReturnType<typeof watchUnhandledRejections>;

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await readBody(req);
  const record = (status: number, caller?: AgentgateCaller, input?: FrameworkInput): void =>
    void received.push({
      authorization: req.headers.authorization,
      accept: req.headers.accept,
      input,
      caller,
      status,
    });
  let caller: AgentgateCaller;
  try {
    if (verify === undefined) throw new Error('not ready');
    caller = await verify(req.headers.authorization);
  } catch {
    record(401);
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid agent token"}');
    return;
  }
  const input = JSON.parse(raw) as FrameworkInput;
  record(200, caller, input);
  const model = createOpenAICompatible({ name: 'fake', baseURL: llm.url, apiKey: 'fake-key' }).chatModel('gpt-fake');
  const agent = new BuiltInAgent({ model, prompt: PROMPT, tools: [weather], maxSteps: 5, maxRetries: 0 });
  const encoder = new EventEncoder({ accept: req.headers.accept });
  res.writeHead(200, { 'content-type': encoder.getContentType(), 'cache-control': 'no-cache' });
  const subscription = agent.run(input).subscribe({
    next: (event) => void res.write(encoder.encode(event as Parameters<EventEncoder['encode']>[0])),
    error: () => void res.end(),
    complete: () => void res.end(),
  });
  // agentgate closing the request (a cancel) must stop the model call, not just the stream.
  res.on('close', () => {
    if (!res.writableFinished) agent.abortRun();
    subscription.unsubscribe();
  });
}

beforeAll(async () => {
  rejections = watchUnhandledRejections();
  llm = await FakeLlmServer.start('openai');
  framework = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => framework.listen(0, '127.0.0.1', resolve));
  agentUrl = `http://127.0.0.1:${(framework.address() as AddressInfo).port}/agent`;
  app = await createTestApp({ LLM_PROVIDER: 'agui', AGENT_URL: agentUrl, AGENT_TIMEOUT_MS: '5000' });
  verify = agentTokenVerifier({
    jwksUrl: `${app.url}/.well-known/jwks.json`,
    issuer: app.config.jwt.issuer,
    audience: new URL(agentUrl).origin,
  });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await app?.close();
  framework?.closeAllConnections();
  await new Promise<void>((resolve) => (framework ? framework.close(() => resolve()) : resolve()));
  await llm?.close();
  rejections?.stop();
});

async function userWithSocket(prefix: string): Promise<{ user: User; ws: TestSocket }> {
  const user = await registerUser(app.url, prefix);
  const ws = await connect(app, user);
  sockets.push(ws);
  return { user, ws };
}

/** One message through agentgate → framework → model; the run's events (checked well-formed). */
function runOnce(ws: TestSocket, id: string, text: string, threadId?: string) {
  return runToEnd(ws, { id, text, threadId });
}

const bodies = (events: readonly RunEvent[]) =>
  events.map(({ runId: _r, threadId: _t, seq: _s, ts: _ts, ...rest }) => rest);
const answerOf = (events: readonly RunEvent[]) =>
  events.flatMap((e) => (e.type === 'agent_message_delta' ? [e.text] : [])).join('');
type ChatRequest = { messages: Array<{ role: string; content: unknown; tool_call_id?: string }>; tools?: unknown[] };
const modelRequest = (index: number) => llm.requests[index]?.body as ChatRequest;

describe('a real AG-UI framework agent (CopilotKit BuiltInAgent) behind agentgate', () => {
  it("streams the model's answer through the framework; the framework verified the agent token", async () => {
    const { user, ws } = await userWithSocket('fw-answer');
    llm.enqueue(openAiReply({ text: ['Hello ', 'from the ', 'framework.'] }, { split: 'awkward' }));
    const before = received.length;
    const { ack, events } = await runOnce(ws, 'a', 'Say hello.');

    const types = bodies(events).map((e) => e.type);
    expect(types[0]).toBe('agent_started');
    expect(types.at(-1)).toBe('agent_completed');
    expect(new Set(types.slice(1, -1))).toEqual(new Set(['agent_message_delta']));
    expect(answerOf(events)).toBe('Hello from the framework.');
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'Hello from the framework.' });

    // The framework got one request: a RunAgentInput with the user's message, and a token naming this run.
    expect(received.slice(before)).toHaveLength(1);
    const got = received.at(-1)!;
    expect(got.status).toBe(200);
    expect(got.accept).toContain('text/event-stream');
    expect(got.caller).toEqual({ userId: user.user.id, threadId: ack.threadId, runId: ack.runId });
    expect(got.input).toMatchObject({
      threadId: ack.threadId,
      runId: ack.runId,
      messages: [{ role: 'user', content: 'Say hello.' }],
    });
    // ... and its model call carried the framework's prompt and the user's message.
    expect(modelRequest(llm.requests.length - 1).messages).toEqual([
      { role: 'system', content: PROMPT },
      { role: 'user', content: 'Say hello.' },
    ]);
  });

  it('a request without a valid agent token gets 401 from the framework and never reaches the model', async () => {
    const user = await registerUser(app.url, 'fw-401');
    const models = llm.requests.length;
    const body = { threadId: 't', runId: 'r', messages: [], tools: [], context: [], state: {}, forwardedProps: {} };
    expect((await request(agentUrl, 'POST', '', { body })).status).toBe(401);
    // An access token of the same issuer is not an agent token.
    expect((await request(agentUrl, 'POST', '', { body, token: user.accessToken })).status).toBe(401);
    expect(llm.requests.length).toBe(models);
  });

  it('a second message on the thread: the model sees the earlier question and answer', async () => {
    const { ws } = await userWithSocket('fw-history');
    llm.enqueue(openAiReply({ text: ['Nice to meet you, ', 'Ada.'] }));
    const first = await runOnce(ws, 'h1', 'My name is Ada.');
    expect(first.events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'Nice to meet you, Ada.' });

    llm.enqueue(openAiReply({ text: ['Your name is Ada.'] }));
    const second = await runOnce(ws, 'h2', 'What is my name?', first.ack.threadId);
    expect(second.events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'Your name is Ada.' });

    expect(received.at(-1)?.input?.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'My name is Ada.'],
      ['assistant', 'Nice to meet you, Ada.'],
      ['user', 'What is my name?'],
    ]);
    expect(modelRequest(llm.requests.length - 1).messages).toEqual([
      { role: 'system', content: PROMPT },
      { role: 'user', content: 'My name is Ada.' },
      { role: 'assistant', content: 'Nice to meet you, Ada.' },
      { role: 'user', content: 'What is my name?' },
    ]);
  });

  it("the framework's own tool, called by the model, shows as tool_executing and tool_completed", async () => {
    const { ws } = await userWithSocket('fw-tool');
    const first = llm.requests.length;
    llm.enqueue(
      openAiReply({ toolCalls: [{ id: 'call_w1', name: 'get_weather', argumentChunks: ['{"ci', 'ty": "Paris"}'] }] }),
      openAiReply({ text: ['It is 21 °C ', 'and clear in Paris.'] }),
    );
    const { events } = await runOnce(ws, 'w', 'Weather in Paris?');

    const result = { city: 'Paris', temperatureC: 21, sky: 'clear' };
    const types = bodies(events).map((e) => e.type);
    expect(types.filter((t) => t !== 'agent_message_delta')).toEqual([
      'agent_started',
      'tool_executing',
      'tool_completed',
      'agent_completed',
    ]);
    expect(types.indexOf('tool_completed')).toBeLessThan(types.indexOf('agent_message_delta'));
    expect(bodies(events).filter((e) => e.type === 'tool_executing' || e.type === 'tool_completed')).toEqual([
      { type: 'tool_executing', toolCallId: 'call_w1', tool: 'get_weather', args: { city: 'Paris' } },
      {
        type: 'tool_completed',
        toolCallId: 'call_w1',
        tool: 'get_weather',
        result,
        durationMs: expect.any(Number),
      },
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'It is 21 °C and clear in Paris.' });

    // Two model calls: the first offered the tool, the second got its result.
    expect(llm.requests.length - first).toBe(2);
    expect(JSON.stringify(modelRequest(first).tools)).toContain('get_weather');
    expect(modelRequest(first + 1).messages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_w1' });
    expect(JSON.parse(String(modelRequest(first + 1).messages.at(-1)?.content))).toEqual(result);
  });

  it('cancel_run ends the run run_cancelled and the framework aborts its model call within 2 s', async () => {
    const { ws } = await userWithSocket('fw-cancel');
    const words = Array.from({ length: 40 }, (_, i) => `word${i} `);
    const reply = openAiReply({ text: words });
    if (reply.kind !== 'stream') throw new Error('expected a stream reply');
    // The model sends a few words slowly, then stalls with its connection open: only an abort ends its request.
    const stallAfterBytes = reply.body.indexOf('data:', reply.body.indexOf('word5 '));
    llm.enqueue({ ...reply, split: 16, stallAfterBytes });
    const index = llm.requests.length;

    const ack = await send(ws, { id: 'c', text: 'Talk for a long time.' });
    await ws.next((m) => m.type === 'agent_message_delta' && 'runId' in m && m.runId === ack.runId, 5_000);
    await llm.waitFor((requests) => requests.length > index, 2_000);
    expect(llm.requests[index]?.aborted).toBe(false);

    const cancelledAt = Date.now();
    ws.send({ type: 'cancel_run', runId: ack.runId });
    expect(await terminalOf(ws, ack.runId, 5_000)).toMatchObject({ type: 'run_cancelled' });
    await llm.waitFor((requests) => requests[index]?.aborted === true, 2_000);
    expect(Date.now() - cancelledAt).toBeLessThan(2_000);
    expect(verifyRunEvents(ws.eventsOf(ack.runId))).toEqual([]);
    expect(answerOf(ws.eventsOf(ack.runId))).toMatch(/^word0 /);
  });

  it('the thread works on after the cancel', async () => {
    const { ws } = await userWithSocket('fw-after');
    llm.enqueue(openAiReply({ text: ['Still here.'] }));
    const { events } = await runOnce(ws, 'after', 'Are you there?');
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'Still here.' });
  });

  it('no unhandled promise rejection happened anywhere in this file', async () => {
    await settle(200);
    expect(rejections.seen).toEqual([]);
    expect(llm.clearReplies()).toBe(0);
  });
});

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
