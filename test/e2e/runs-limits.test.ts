import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyRunEvents } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, type TestApp, type TestSocket } from '../../src/testing/index.js';
import {
  commonScripts,
  connect,
  errorFor,
  eventOf,
  ScriptedAgent,
  send,
  settle,
  terminalOf,
  threadRuns,
  type Of,
  type Script,
} from './helpers/runs.js';

const scripts: Record<string, Script> = {
  ...commonScripts,
  /** Two tool calls in a row. */
  'two-tools': async (_req, io) => {
    await io.callTool('calculator', { expression: '1+1' });
    await io.callTool('calculator', { expression: '2+2' });
    io.delta('both done');
    return { text: 'both done' };
  },
};

// Short runs.
let limited: TestApp;
// A single tool call per run (and no short duration limit, which a loaded machine could reach first).
let oneTool: TestApp;
// One run in progress per user.
let single: TestApp;
const sockets: TestSocket[] = [];
beforeAll(async () => {
  [limited, oneTool, single] = await Promise.all([
    createTestApp({ RUN_MAX_DURATION_MS: '1000' }, { agent: new ScriptedAgent(scripts) }),
    createTestApp({ RUN_MAX_TOOL_CALLS: '1' }, { agent: new ScriptedAgent(scripts) }),
    createTestApp({ MAX_RUNS_PER_USER: '1' }, { agent: new ScriptedAgent(scripts) }),
  ]);
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.all([limited?.close(), oneTool?.close(), single?.close()]);
});

async function userOn(
  app: TestApp,
  prefix: string,
): Promise<{ user: Awaited<ReturnType<typeof registerUser>>; ws: TestSocket }> {
  const user = await registerUser(app.url, prefix);
  const ws = await connect(app, user);
  sockets.push(ws);
  return { user, ws };
}

describe('runs: RUN_MAX_DURATION_MS', () => {
  it('RUN_MAX_DURATION_MS=1000 with "wait 10 seconds" ends agent_error run_timeout after about a second, closing the tool call', async () => {
    const { user, ws } = await userOn(limited, 'timeout');
    const t0 = Date.now();
    const ack = await send(ws, { id: 't', text: 'wait 10 seconds' });
    const tool = await eventOf(ws, ack.runId, 'tool_executing');
    const last = await terminalOf(ws, ack.runId, 4_000);
    const elapsed = Date.now() - t0;
    expect(last).toMatchObject({ type: 'agent_error', code: 'run_timeout', message: expect.any(String) });
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(3_000);
    const events = ws.eventsOf(ack.runId);
    expect(verifyRunEvents(events)).toEqual([]);
    const completed = events.find(
      (e): e is Of<'tool_completed'> => e.type === 'tool_completed' && e.toolCallId === tool.toolCallId,
    );
    expect(completed?.error).toEqual(expect.objectContaining({ code: expect.any(String) }));
    expect(await threadRuns(limited, user, ack.threadId)).toEqual([
      expect.objectContaining({ id: ack.runId, status: 'error', errorCode: 'run_timeout' }),
    ]);
  });

  it('an agent that ignores its AbortSignal is still ended by the time limit with run_timeout', async () => {
    const { ws } = await userOn(limited, 'timeout-deaf');
    const ack = await send(ws, { id: 'd', text: 'script:deaf' });
    const last = await terminalOf(ws, ack.runId, 4_000);
    expect(last).toMatchObject({ type: 'agent_error', code: 'run_timeout' });
    expect(verifyRunEvents(ws.eventsOf(ack.runId))).toEqual([]);
  });
});

describe('runs: RUN_MAX_TOOL_CALLS', () => {
  it('RUN_MAX_TOOL_CALLS=1 and a scripted agent calling two tools: the first completes, the second never executes, agent_error tool_limit_exceeded', async () => {
    const { user, ws } = await userOn(oneTool, 'tools');
    const ack = await send(ws, { id: 'two', text: 'script:two-tools' });
    const events = await ws.runEvents(ack.runId, 4_000);
    expect(verifyRunEvents(events)).toEqual([]);
    const executing = events.filter((e) => e.type === 'tool_executing');
    expect(executing).toHaveLength(1);
    expect(events.find((e) => e.type === 'tool_completed')).toMatchObject({
      tool: 'calculator',
      result: expect.anything(),
    });
    expect(events.at(-1)).toMatchObject({
      type: 'agent_error',
      code: 'tool_limit_exceeded',
      message: expect.any(String),
    });
    expect(events.some((e) => e.type === 'agent_message_delta')).toBe(false);
    expect(await threadRuns(oneTool, user, ack.threadId)).toEqual([
      expect.objectContaining({ status: 'error', errorCode: 'tool_limit_exceeded' }),
    ]);
  });

  it('the offline agent asked for two calculations under RUN_MAX_TOOL_CALLS=1 ends tool_limit_exceeded too', async () => {
    const { ws } = await userOn(oneTool, 'tools-offline');
    const ack = await send(ws, { id: 'two', text: 'calculate 1+1 and then calculate 2+2' });
    const events = await ws.runEvents(ack.runId, 4_000);
    expect(verifyRunEvents(events)).toEqual([]);
    expect(events.filter((e) => e.type === 'tool_executing')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'agent_error', code: 'tool_limit_exceeded' });
  });
});

describe('runs: MAX_RUNS_PER_USER', () => {
  it('MAX_RUNS_PER_USER=1: a second concurrent message in another thread gets error too_many_runs with replyTo, and creates nothing', async () => {
    const { user, ws } = await userOn(single, 'max');
    const first = await send(ws, { id: 'first', text: 'wait 30 seconds' });
    await eventOf(ws, first.runId, 'tool_executing');
    ws.send({ type: 'user_message', id: 'second', text: 'calculate 1+1' });
    const err = await errorFor(ws, 'second');
    expect(err).toMatchObject({ type: 'error', code: 'too_many_runs', replyTo: 'second', message: expect.any(String) });
    await settle(200);
    expect(ws.messages.filter((m) => m.type === 'message_accepted' && m.replyTo === 'second')).toEqual([]);
    expect(ws.messages.filter((m) => m.type === 'message_added')).toHaveLength(1);
    const threads = await request<{ threads: Array<{ id: string }> }>(single.url, 'GET', '/threads', {
      token: user.accessToken,
    });
    expect(threads.body.threads.map((t) => t.id)).toEqual([first.threadId]);
    // The first run is untouched.
    expect(ws.eventsOf(first.runId).some((e) => e.type === 'run_cancelled' || e.type === 'agent_error')).toBe(false);

    // The limit is per user: someone else can still start a run meanwhile.
    const other = await userOn(single, 'max-other');
    const theirs = await send(other.ws, { id: 'o', text: 'calculate 2*3' });
    expect((await terminalOf(other.ws, theirs.runId)).type).toBe('agent_completed');

    // Once the first run has ended, a new message is accepted.
    ws.send({ type: 'cancel_run', runId: first.runId });
    await terminalOf(ws, first.runId, 2_000);
    const third = await send(ws, { id: 'third', text: 'calculate 3*3' });
    expect((await terminalOf(ws, third.runId)).type).toBe('agent_completed');
  });
});
