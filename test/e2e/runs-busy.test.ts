import { describe, expect, it } from 'vitest';
import { isTerminalEvent, verifyRunEvents, type ServerMessage } from '../../src/protocol/index.js';
import { registerUser, request, type TestSocket } from '../../src/testing/index.js';
import {
  errorFor,
  eventOf,
  isRunEvent,
  send,
  settle,
  terminalOf,
  threadRuns,
  useScriptedApp,
  watchUnhandledRejections,
  type Ack,
  type User,
} from './helpers/runs.js';

const server = useScriptedApp({ MAX_RUNS_PER_USER: '20' });
const { open } = server;

/** Position of the first message matching `match` in what a socket received. */
const indexOf = (ws: TestSocket, match: (m: ServerMessage) => boolean): number => ws.messages.findIndex(match);
const startedAt = (ws: TestSocket, runId: string): number =>
  indexOf(ws, (m) => isRunEvent(m) && m.runId === runId && m.type === 'agent_started');
const endedAt = (ws: TestSocket, runId: string): number =>
  indexOf(ws, (m) => isRunEvent(m) && m.runId === runId && isTerminalEvent(m));
const addedAt = (ws: TestSocket, runId: string): number =>
  indexOf(ws, (m) => m.type === 'message_added' && m.runId === runId);

async function threadMessages(
  user: User,
  threadId: string,
): Promise<Array<{ role: string; text: string; runId: string }>> {
  return (
    await request<{ messages: Array<{ role: string; text: string; runId: string }> }>(
      server.app.url,
      'GET',
      `/threads/${threadId}/messages`,
      { token: user.accessToken },
    )
  ).body.messages;
}

describe('runs: onBusy', () => {
  it('onBusy "reject" while the thread has a run in progress gets error thread_busy with replyTo and changes nothing; on an idle thread it is accepted', async () => {
    const user = await registerUser(server.app.url, 'reject');
    const ws = await open(user);
    const first = await send(ws, { id: 'first', text: 'wait 30 seconds' });
    await eventOf(ws, first.runId, 'tool_executing');
    ws.send({ type: 'user_message', id: 'no', threadId: first.threadId, text: 'calculate 1+1', onBusy: 'reject' });
    expect(await errorFor(ws, 'no')).toMatchObject({ type: 'error', code: 'thread_busy', replyTo: 'no' });
    await settle(200);
    expect(ws.messages.filter((m) => m.type === 'message_added')).toHaveLength(1);
    expect(await threadRuns(server.app, user, first.threadId)).toEqual([
      expect.objectContaining({ id: first.runId, status: 'running' }),
    ]);
    expect(await threadMessages(user, first.threadId)).toHaveLength(1);
    expect(ws.eventsOf(first.runId).some((e) => isTerminalEvent(e))).toBe(false);

    ws.send({ type: 'cancel_run', runId: first.runId });
    await terminalOf(ws, first.runId, 2_000);
    const idle = await send(ws, { id: 'yes', threadId: first.threadId, text: 'calculate 1+1', onBusy: 'reject' });
    expect((await terminalOf(ws, idle.runId)).type).toBe('agent_completed');
  });

  it('onBusy "interrupt" ends the running run with run_cancelled, then the new one starts and completes', async () => {
    const user = await registerUser(server.app.url, 'interrupt');
    const ws = await open(user);
    const first = await send(ws, { id: 'first', text: 'wait 30 seconds' });
    const tool = await eventOf(ws, first.runId, 'tool_executing');
    const t0 = Date.now();
    const second = await send(ws, {
      id: 'second',
      threadId: first.threadId,
      text: 'calculate 6*7',
      onBusy: 'interrupt',
    });
    expect(second.threadId).toBe(first.threadId);
    expect((await terminalOf(ws, first.runId, 2_000)).type).toBe('run_cancelled');
    expect(Date.now() - t0).toBeLessThan(2_000);
    const events2 = await ws.runEvents(second.runId);
    const events1 = ws.eventsOf(first.runId);
    expect(verifyRunEvents(events1)).toEqual([]);
    expect(verifyRunEvents(events2)).toEqual([]);
    expect(events1.find((e) => e.type === 'tool_completed' && e.toolCallId === tool.toolCallId)).toMatchObject({
      error: expect.anything(),
    });
    expect(events2.at(-1)).toMatchObject({ type: 'agent_completed', text: expect.stringContaining('42') });
    expect(startedAt(ws, second.runId)).toBeGreaterThan(endedAt(ws, first.runId));
    expect((await threadRuns(server.app, user, first.threadId)).map((r) => [r.id, r.status])).toEqual([
      [first.runId, 'cancelled'],
      [second.runId, 'completed'],
    ]);
  });

  it('onBusy "interrupt" with a run queued behind the running one cancels both (no unhandled rejection), then the new one completes', async () => {
    const rejections = watchUnhandledRejections();
    try {
      const user = await registerUser(server.app.url, 'interrupt-queue');
      const ws = await open(user);
      const running = await send(ws, { id: 'running', text: 'wait 30 seconds' });
      await eventOf(ws, running.runId, 'tool_executing');
      const queued = await send(ws, { id: 'queued', threadId: running.threadId, text: 'calculate 1+1' });
      const last = await send(ws, {
        id: 'last',
        threadId: running.threadId,
        text: 'calculate 6*7',
        onBusy: 'interrupt',
      });
      expect((await terminalOf(ws, running.runId, 2_000)).type).toBe('run_cancelled');
      expect((await terminalOf(ws, queued.runId, 2_000)).type).toBe('run_cancelled');
      expect((await terminalOf(ws, last.runId, 5_000)).type).toBe('agent_completed');
      for (const ack of [running, queued, last]) expect(verifyRunEvents(ws.eventsOf(ack.runId))).toEqual([]);
      expect(startedAt(ws, last.runId)).toBeGreaterThan(
        Math.max(endedAt(ws, running.runId), endedAt(ws, queued.runId)),
      );
      expect((await threadRuns(server.app, user, running.threadId)).map((r) => r.status)).toEqual([
        'cancelled',
        'cancelled',
        'completed',
      ]);
      await settle(100);
    } finally {
      rejections.stop();
    }
    expect(rejections.seen.map(String)).toEqual([]);
  });

  it('onBusy "enqueue" (and the default) acks at once and starts each queued run only after the previous one\'s terminal event', async () => {
    const user = await registerUser(server.app.url, 'enqueue');
    const ws = await open(user);
    const first = await send(ws, { id: 'first', text: 'script:sleep 600' });
    await eventOf(ws, first.runId, 'agent_thinking');
    const second = await send(ws, { id: 'second', threadId: first.threadId, text: 'calculate 2*3' });
    const third = await send(ws, { id: 'third', threadId: first.threadId, text: 'calculate 3*3', onBusy: 'enqueue' });
    // Both acks came while the first run was still going.
    expect(endedAt(ws, first.runId)).toBe(-1);
    for (const ack of [second, third]) expect(ack.threadId).toBe(first.threadId);
    await terminalOf(ws, third.runId, 10_000);
    for (const ack of [first, second, third]) {
      expect(verifyRunEvents(ws.eventsOf(ack.runId))).toEqual([]);
      expect(ws.eventsOf(ack.runId).at(-1)?.type).toBe('agent_completed');
    }
    expect(startedAt(ws, second.runId)).toBeGreaterThan(endedAt(ws, first.runId));
    expect(startedAt(ws, third.runId)).toBeGreaterThan(endedAt(ws, second.runId));
    expect((await threadRuns(server.app, user, first.threadId)).map((r) => r.status)).toEqual([
      'completed',
      'completed',
      'completed',
    ]);
    // Each run stored its own answer.
    const messages = await threadMessages(user, first.threadId);
    for (const ack of [first, second, third]) {
      expect(
        messages
          .filter((m) => m.runId === ack.runId)
          .map((m) => m.role)
          .sort(),
      ).toEqual(['assistant', 'user']);
    }
  });

  it("message_added reaches every connection of the user, with the message, before the run's agent_started", async () => {
    const user = await registerUser(server.app.url, 'added');
    const [ws1, ws2] = await Promise.all([open(user), open(user)]);
    const acks: Ack[] = [];
    acks.push(await send(ws1, { id: 'm1', text: 'calculate 12*7' }));
    acks.push(await send(ws2, { id: 'm2', threadId: acks[0]?.threadId, text: 'what time is it in Asia/Tokyo' }));
    for (const ack of acks) {
      for (const ws of [ws1, ws2]) {
        await terminalOf(ws, ack.runId);
        const added = ws.messages[addedAt(ws, ack.runId)];
        expect(added).toMatchObject({
          type: 'message_added',
          threadId: ack.threadId,
          runId: ack.runId,
          message: { id: expect.any(String), role: 'user', createdAt: expect.any(String) },
        });
        expect(addedAt(ws, ack.runId)).toBeLessThan(startedAt(ws, ack.runId));
        expect(ws.messages.filter((m) => m.type === 'message_added' && m.runId === ack.runId)).toHaveLength(1);
      }
    }
    expect(ws1.messages[addedAt(ws1, acks[1]?.runId ?? '')]).toMatchObject({
      message: { text: 'what time is it in Asia/Tokyo' },
    });
  });
});

describe('runs: idempotent user_message', () => {
  it('re-sending a user_message with an accepted id returns the same ack and starts nothing, during and after the run', async () => {
    const user = await registerUser(server.app.url, 'idem');
    const ws = await open(user);
    const ack = await send(ws, { id: 'once', text: 'script:sleep 300' });
    ws.send({ type: 'user_message', id: 'once', text: 'script:sleep 300' });
    const during = (await ws.waitFor((m) => m.type === 'message_accepted' && m.replyTo === 'once')) as Ack;
    expect(during).toEqual(ack);
    await terminalOf(ws, ack.runId);
    ws.send({ type: 'user_message', id: 'once', text: 'script:sleep 300' });
    const after = (await ws.waitFor((m) => m.type === 'message_accepted' && m.replyTo === 'once')) as Ack;
    expect(after).toEqual(ack);
    await settle(400);
    expect(new Set(ws.messages.filter(isRunEvent).map((e) => e.runId))).toEqual(new Set([ack.runId]));
    expect(ws.messages.filter((m) => m.type === 'message_added')).toHaveLength(1);
    expect(verifyRunEvents(ws.eventsOf(ack.runId))).toEqual([]);
    const threads = await request<{ threads: Array<{ id: string }> }>(server.app.url, 'GET', '/threads', {
      token: user.accessToken,
    });
    expect(threads.body.threads.map((t) => t.id)).toEqual([ack.threadId]);
    expect(await threadRuns(server.app, user, ack.threadId)).toHaveLength(1);
    expect((await threadMessages(user, ack.threadId)).filter((m) => m.role === 'user')).toHaveLength(1);
  });

  it('two racing sends with one id on two connections start exactly one run and both get its ack', async () => {
    const user = await registerUser(server.app.url, 'race');
    const [ws1, ws2] = await Promise.all([open(user), open(user)]);
    const [a, b] = await Promise.all([
      send(ws1, { id: 'same', text: 'calculate 5*5' }),
      send(ws2, { id: 'same', text: 'calculate 5*5' }),
    ]);
    expect(a).toEqual({ ...b, replyTo: 'same' });
    await terminalOf(ws1, a.runId);
    await settle(300);
    const threads = await request<{ threads: Array<{ id: string }> }>(server.app.url, 'GET', '/threads', {
      token: user.accessToken,
    });
    expect(threads.body.threads.map((t) => t.id)).toEqual([a.threadId]);
    expect(await threadRuns(server.app, user, a.threadId)).toHaveLength(1);
    for (const ws of [ws1, ws2]) {
      expect(new Set(ws.messages.filter(isRunEvent).map((e) => e.runId))).toEqual(new Set([a.runId]));
      expect(ws.messages.filter((m) => m.type === 'message_added')).toHaveLength(1);
    }
  });

  it('the same client id from another user is a different message and starts its own run', async () => {
    const [alice, bob] = await Promise.all([
      registerUser(server.app.url, 'idem-a'),
      registerUser(server.app.url, 'idem-b'),
    ]);
    const [aWs, bWs] = await Promise.all([open(alice), open(bob)]);
    const a = await send(aWs, { id: 'shared-id', text: 'calculate 1+2' });
    const b = await send(bWs, { id: 'shared-id', text: 'calculate 1+2' });
    expect(b.runId).not.toBe(a.runId);
    expect(b.threadId).not.toBe(a.threadId);
    expect((await terminalOf(aWs, a.runId)).type).toBe('agent_completed');
    expect((await terminalOf(bWs, b.runId)).type).toBe('agent_completed');
  });
});
