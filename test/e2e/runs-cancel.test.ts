import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
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
  watchUnhandledRejections,
  type Of,
  type Script,
  type User,
} from './helpers/runs.js';

const scripts: Record<string, Script> = {
  ...commonScripts,
  /** Three tool calls that all fail, then a normal answer. */
  'bad-tools': async (_req, io) => {
    const outcomes = [
      await io.callTool('no_such_tool', { x: 1 }),
      await io.callTool('calculator', { expression: 42 }),
      await io.callTool('calculator', { expression: '2 +' }),
    ];
    const text = `recovered from ${outcomes.filter((o) => !o.ok).length} failures`;
    io.delta(text);
    return { text };
  },
  /** Throws an error full of internals. */
  boom: async (_req, io) => {
    io.think('about to fail');
    const err = new Error('SECRET_INTERNAL db password=hunter2 at /srv/agentgate/src/secret.ts:42');
    err.stack = `${err.message}\n    at secretFunction (/srv/agentgate/src/secret.ts:42:7)`;
    throw err;
  },
};

let app: TestApp;
let user: User;
let ws: TestSocket;
let other: TestSocket;
beforeAll(async () => {
  app = await createTestApp({ MAX_RUNS_PER_USER: '20' }, { agent: new ScriptedAgent(scripts) });
  user = await registerUser(app.url, 'cancel');
  [ws, other] = await Promise.all([connect(app, user), connect(app, user)]);
});
afterAll(async () => {
  ws?.close();
  other?.close();
  await app?.close();
});

/** Checks a run cancelled while its wait tool was executing. */
function expectCancelledDuringTool(events: RunEvent[], toolCallId: string): void {
  expect(verifyRunEvents(events)).toEqual([]);
  const completed = events.filter(
    (e): e is Of<'tool_completed'> => e.type === 'tool_completed' && e.toolCallId === toolCallId,
  );
  expect(completed).toHaveLength(1);
  expect(completed[0]?.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
  expect(completed[0]?.result).toBeUndefined();
  expect(events.at(-1)?.type).toBe('run_cancelled');
  expect(
    events.filter((e) => e.type === 'run_cancelled' || e.type === 'agent_completed' || e.type === 'agent_error'),
  ).toHaveLength(1);
}

describe('runs: cancel', () => {
  it('cancel_run while "wait 30 seconds" executes closes the tool call with an error and ends run_cancelled within 2 s, on every connection', async () => {
    const ack = await send(ws, { id: 'c-ws', text: 'wait 30 seconds' });
    const tool = await eventOf(ws, ack.runId, 'tool_executing');
    expect(tool).toMatchObject({ tool: 'wait', args: { seconds: 30 } });
    const t0 = Date.now();
    ws.send({ type: 'cancel_run', id: 'cancel-1', runId: ack.runId });
    await terminalOf(ws, ack.runId, 2_000);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expectCancelledDuringTool(ws.eventsOf(ack.runId), tool.toolCallId);
    await terminalOf(other, ack.runId, 2_000);
    expect(other.eventsOf(ack.runId)).toEqual(ws.eventsOf(ack.runId));
    expect(ws.messages.filter((m) => m.type === 'error' && m.replyTo === 'cancel-1')).toEqual([]);
    expect(await threadRuns(app, user, ack.threadId)).toEqual([
      expect.objectContaining({ id: ack.runId, status: 'cancelled' }),
    ]);
    const stored = await request<{ events: RunEvent[] }>(app.url, 'GET', `/runs/${ack.runId}/events?after=0`, {
      token: user.accessToken,
    });
    expect(stored.body.events).toEqual(ws.eventsOf(ack.runId));
  });

  it('POST /runs/:id/cancel answers 202 and the run ends the same way, promptly', async () => {
    const ack = await send(ws, { id: 'c-http', text: 'wait 30 seconds' });
    const tool = await eventOf(ws, ack.runId, 'tool_executing');
    const t0 = Date.now();
    const res = await request(app.url, 'POST', `/runs/${ack.runId}/cancel`, { token: user.accessToken });
    expect(res.status).toBe(202);
    await terminalOf(ws, ack.runId, 2_000);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expectCancelledDuringTool(ws.eventsOf(ack.runId), tool.toolCallId);
    expect(await threadRuns(app, user, ack.threadId)).toEqual([
      expect.objectContaining({ id: ack.runId, status: 'cancelled' }),
    ]);
  });

  it('cancelling a finished run gets 409 run_finished over HTTP and error run_finished over WebSocket; completed and cancelled runs alike', async () => {
    const done = await send(ws, { id: 'c-done', text: 'calculate 12*7' });
    expect((await terminalOf(ws, done.runId)).type).toBe('agent_completed');
    const cancelled = await send(ws, { id: 'c-twice', text: 'wait 30 seconds' });
    await eventOf(ws, cancelled.runId, 'tool_executing');
    ws.send({ type: 'cancel_run', runId: cancelled.runId });
    await terminalOf(ws, cancelled.runId, 2_000);
    for (const runId of [done.runId, cancelled.runId]) {
      const res = await request(app.url, 'POST', `/runs/${runId}/cancel`, { token: user.accessToken });
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ error: { code: 'run_finished', message: expect.any(String) } });
      ws.send({ type: 'cancel_run', id: `again-${runId}`, runId });
      expect(await errorFor(ws, `again-${runId}`)).toMatchObject({
        type: 'error',
        code: 'run_finished',
        replyTo: `again-${runId}`,
      });
    }
    await settle(200);
    // No event after the terminal one.
    expect(verifyRunEvents(ws.eventsOf(done.runId))).toEqual([]);
    expect(verifyRunEvents(ws.eventsOf(cancelled.runId))).toEqual([]);
    expect(ws.eventsOf(done.runId).at(-1)?.type).toBe('agent_completed');
  });

  it('a run queued behind another in its thread is cancelled at once, without waiting for the one ahead (and without an unhandled rejection, which would kill the server)', async () => {
    const rejections = watchUnhandledRejections();
    const first = await send(ws, { id: 'q-first', text: 'wait 30 seconds' });
    await eventOf(ws, first.runId, 'tool_executing');
    const queued = await send(ws, { id: 'q-second', threadId: first.threadId, text: 'calculate 1+1' });
    await settle(100);
    const t0 = Date.now();
    ws.send({ type: 'cancel_run', runId: queued.runId });
    expect((await terminalOf(ws, queued.runId, 2_000)).type).toBe('run_cancelled');
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(verifyRunEvents(ws.eventsOf(queued.runId))).toEqual([]);
    expect(ws.eventsOf(queued.runId).some((e) => e.type === 'tool_executing')).toBe(false);
    // The first one is unaffected until it is cancelled itself.
    expect(ws.eventsOf(first.runId).some((e) => e.type === 'run_cancelled')).toBe(false);
    ws.send({ type: 'cancel_run', runId: first.runId });
    expect((await terminalOf(ws, first.runId, 2_000)).type).toBe('run_cancelled');
    const runs = await threadRuns(app, user, first.threadId);
    expect(runs.map((r) => r.status)).toEqual(['cancelled', 'cancelled']);
    await settle(100);
    rejections.stop();
    expect(rejections.seen.map(String)).toEqual([]);
  });

  it('an agent that ignores its AbortSignal still ends run_cancelled within 2 s of a cancel', async () => {
    const ack = await send(ws, { id: 'deaf', text: 'script:deaf' });
    await eventOf(ws, ack.runId, 'agent_thinking');
    const t0 = Date.now();
    ws.send({ type: 'cancel_run', runId: ack.runId });
    expect((await terminalOf(ws, ack.runId, 2_000)).type).toBe('run_cancelled');
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(verifyRunEvents(ws.eventsOf(ack.runId))).toEqual([]);
    expect(await threadRuns(app, user, ack.threadId)).toEqual([expect.objectContaining({ status: 'cancelled' })]);
  });
});

describe('runs: failures inside a run', () => {
  it('tools that fail (unknown tool, invalid arguments, calculator "2 +") complete with an error and the run still ends agent_completed', async () => {
    const ack = await send(ws, { id: 'bad-tools', text: 'script:bad-tools' });
    const events = await ws.runEvents(ack.runId);
    expect(verifyRunEvents(events)).toEqual([]);
    const completed = events.filter((e): e is Of<'tool_completed'> => e.type === 'tool_completed');
    expect(completed.map((e) => [e.tool, e.error?.code])).toEqual([
      ['no_such_tool', 'unknown_tool'],
      ['calculator', 'invalid_arguments'],
      ['calculator', 'tool_failed'],
    ]);
    for (const e of completed) {
      expect(e.result).toBeUndefined();
      expect(e.error?.message).toEqual(expect.any(String));
      expect(e.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'recovered from 3 failures' });
  });

  it('the offline agent asked "calculate 2 +" gets a tool_completed error and still answers with agent_completed', async () => {
    const ack = await send(ws, { id: 'calc-bad', text: 'calculate 2 +' });
    const events = await ws.runEvents(ack.runId);
    expect(verifyRunEvents(events)).toEqual([]);
    const tool = events.find((e): e is Of<'tool_completed'> => e.type === 'tool_completed');
    expect(tool).toMatchObject({ tool: 'calculator', error: { code: 'tool_failed' } });
    expect(events.at(-1)?.type).toBe('agent_completed');
  });

  it('an agent that throws ends agent_error agent_failed, and the message reveals no stack or internal detail', async () => {
    const ack = await send(ws, { id: 'boom', text: 'script:boom' });
    const events = await ws.runEvents(ack.runId);
    expect(verifyRunEvents(events)).toEqual([]);
    const last = events.at(-1) as Of<'agent_error'>;
    expect(last).toMatchObject({ type: 'agent_error', code: 'agent_failed', message: expect.any(String) });
    expect(last.message).not.toMatch(/SECRET|hunter2|password|secret\.ts|\/srv\/|\n\s+at /);
    expect(JSON.stringify(events)).not.toMatch(/SECRET|hunter2|secret\.ts/);
    expect(await threadRuns(app, user, ack.threadId)).toEqual([
      expect.objectContaining({ status: 'error', errorCode: 'agent_failed' }),
    ]);
  });
});
