import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

describe('golden path', () => {
  it('registers, connects with a ticket, asks "calculate 12*7", sees a tool call and 84, finds the thread again', async () => {
    const user = await registerUser(app.url);
    const me = await request(app.url, 'GET', '/auth/me', { token: user.accessToken });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: { id: user.user.id, email: user.email } });

    const ticket = await request<{ ticket: string; url: string; expiresIn: number }>(app.url, 'POST', '/ws/ticket', {
      token: user.accessToken,
    });
    expect(ticket.status).toBe(201);
    expect(ticket.body.expiresIn).toBe(60);
    expect(ticket.body.url).toBe(wsUrl(app.url, `?ticket=${ticket.body.ticket}`));

    const ws = await TestSocket.open(ticket.body.url);
    const hello = ws.messages[0];
    expect(hello).toMatchObject({ type: 'connection_established', userId: user.user.id, activeRuns: [] });

    ws.send({ type: 'user_message', id: 'm1', text: 'calculate 12*7' });
    const ack = await ws.next((m) => m.type === 'message_accepted');
    expect(ack).toMatchObject({ replyTo: 'm1' });
    const { runId, threadId } = ack as { runId: string; threadId: string };
    const events = await ws.runEvents(runId);

    expect(verifyRunEvents(events)).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        'agent_started',
        'agent_thinking',
        'tool_executing',
        'tool_completed',
        'agent_message_delta',
        'agent_completed',
      ]),
    );
    const tool = events.find((e): e is Extract<RunEvent, { type: 'tool_executing' }> => e.type === 'tool_executing');
    expect(tool).toMatchObject({ tool: 'calculator', args: { expression: '12*7' } });
    const done = events.at(-1) as Extract<RunEvent, { type: 'agent_completed' }>;
    expect(done.type).toBe('agent_completed');
    expect(done.text).toContain('84');
    const streamed = events
      .filter((e) => e.type === 'agent_message_delta')
      .map((e) => (e as { text: string }).text)
      .join('');
    expect(streamed).toBe(done.text);
    for (const e of events) expect(e).toMatchObject({ runId, threadId });

    // message_added reaches the sender too, before the run's first event.
    const order = ws.messages.map((m) => m.type);
    expect(order.indexOf('message_added')).toBeLessThan(order.indexOf('agent_started'));

    const threads = await request<{ threads: Array<{ id: string; title: string }> }>(app.url, 'GET', '/threads', {
      token: user.accessToken,
    });
    expect(threads.body.threads).toEqual([expect.objectContaining({ id: threadId, title: 'calculate 12*7' })]);
    const messages = await request<{ messages: Array<{ role: string; text: string; runId: string }> }>(
      app.url,
      'GET',
      `/threads/${threadId}/messages`,
      { token: user.accessToken },
    );
    expect(messages.body.messages).toEqual([
      expect.objectContaining({ role: 'user', text: 'calculate 12*7', runId }),
      expect.objectContaining({ role: 'assistant', text: done.text, runId }),
    ]);
    const stored = await request<{ events: RunEvent[] }>(app.url, 'GET', `/runs/${runId}/events?after=0`, {
      token: user.accessToken,
    });
    expect(stored.body.events).toEqual(events);
    const after3 = await request<{ events: RunEvent[] }>(app.url, 'GET', `/runs/${runId}/events?after=3`, {
      token: user.accessToken,
    });
    expect(after3.body.events.map((e) => e.seq)).toEqual(events.slice(3).map((e) => e.seq));
    const thread = await request<{ thread: { runs: Array<{ id: string; status: string }> } }>(
      app.url,
      'GET',
      `/threads/${threadId}`,
      { token: user.accessToken },
    );
    expect(thread.body.thread.runs).toEqual([expect.objectContaining({ id: runId, status: 'completed' })]);

    // A follow-up in the same thread.
    ws.send({ type: 'user_message', threadId, text: 'what time is it in Europe/Paris' });
    const ack2 = (await ws.waitFor((m) => m.type === 'message_accepted')) as { runId: string; threadId: string };
    expect(ack2.threadId).toBe(threadId);
    const events2 = await ws.runEvents(ack2.runId);
    expect(verifyRunEvents(events2)).toEqual([]);
    expect(events2.find((e) => e.type === 'tool_executing')).toMatchObject({
      tool: 'clock',
      args: { timeZone: 'Europe/Paris' },
    });
    ws.close();
  });

  it('answers ping with pong and malformed input with invalid_message without closing', async () => {
    const user = await registerUser(app.url);
    const ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${user.accessToken}` } });
    ws.send({ type: 'ping', id: 'p' });
    expect(await ws.next((m) => m.type === 'pong')).toMatchObject({ replyTo: 'p' });
    ws.send('{not json');
    expect(await ws.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'invalid_message', replyTo: null });
    ws.send({ type: 'launch_missiles', id: 'x' });
    expect(await ws.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'invalid_message', replyTo: 'x' });
    ws.send({ type: 'user_message', id: 'e', text: '' });
    expect(await ws.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'invalid_message', replyTo: 'e' });
    ws.send({ type: 'ping', id: 'still-open' });
    expect(await ws.waitFor((m) => m.type === 'pong')).toMatchObject({ replyTo: 'still-open' });
    expect(ws.closed).toBeUndefined();
    ws.close();
  });

  it('serves health and gateway metadata', async () => {
    expect((await request(app.url, 'GET', '/health/live')).body).toEqual({ status: 'ok' });
    const ready = await request(app.url, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', components: { database: 'ok' } });
    expect((await request(app.url, 'GET', '/ws/health')).body).toEqual({
      status: 'ok',
      connections: expect.any(Number),
      preConnectionAuth: true,
      demoMode: false,
    });
    expect((await request(app.url, 'GET', '/ws/config')).body).toEqual({
      url: wsUrl(app.url),
      heartbeatIntervalMs: 30_000,
      maxMessageBytes: 65_536,
      ticketTtlSeconds: 60,
      authMethods: ['ticket', 'bearer', 'subprotocol'],
    });
    const metrics = await request<string>(app.url, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('agentgate_ws_connections');
  });
});
