import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { MessagesResponse, ThreadsResponse } from '../../src/protocol/index.js';
import { registerUser, request } from '../../src/testing/index.js';
import { commonScripts, errorFor, send, terminalOf, useScriptedApp, type Script, type User } from './helpers/runs.js';

/** Issue 20.4: what one user may start and store is bounded, and what they read comes in pages. */

const scripts: Record<string, Script> = {
  ...commonScripts,
  /** Answers with the history the run was given, as JSON. */
  history: async (req) => ({ text: JSON.stringify(req.history.map(({ role, text }) => ({ role, text }))) }),
  /** `script:say <words>`: answers the words. */
  say: async (req) => ({ text: req.text.replace(/^script:say /, '') }),
};

/** A POST /agui for a new run on `threadId`; the whole answer (an event stream, or an error body). */
function aguiRun(url: string, user: User, threadId: string, text: string) {
  return request(url, 'POST', '/agui', {
    token: user.accessToken,
    body: { threadId, runId: randomUUID(), state: {}, messages: [{ id: randomUUID(), role: 'user', content: text }] },
    headers: { accept: 'text/event-stream' },
  });
}

describe('RUNS_PER_MINUTE: one budget of run starts per user, over the socket and POST /agui', () => {
  const under = useScriptedApp({ RUNS_PER_MINUTE: '3' }, scripts);

  it('the fourth start in a minute is refused rate_limited with a retry hint on either entry point; other users are not', async () => {
    const { app } = under;
    const user = await registerUser(app.url, 'starts');
    const ws = await under.open(user);
    const first = await send(ws, { id: 's1', text: 'hello' });
    await terminalOf(ws, first.runId);
    const second = await send(ws, { id: 's2', text: 'hello again', threadId: first.threadId });
    await terminalOf(ws, second.runId);
    expect((await aguiRun(app.url, user, randomUUID(), 'third, over AG-UI')).status).toBe(200);

    const overHttp = await aguiRun(app.url, user, randomUUID(), 'fourth, over AG-UI');
    expect(overHttp.status).toBe(429);
    expect(overHttp.body).toMatchObject({ error: { code: 'rate_limited', message: expect.any(String) } });
    const retryAfter = Number(overHttp.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);

    ws.send({ type: 'user_message', id: 's4', text: 'fourth, over the socket' });
    const refused = await errorFor(ws, 's4');
    expect(refused).toMatchObject({ code: 'rate_limited', replyTo: 's4' });
    expect((refused as { retryAfterSeconds?: number }).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // A refused start stores nothing: the user holds the first thread and the AG-UI one.
    const threads = await request<ThreadsResponse>(app.url, 'GET', '/threads', { token: user.accessToken });
    expect(threads.body.threads).toHaveLength(2);

    // A re-send of an accepted id is not a new start: it answers its first ack, over the limit or not.
    const again = ws.waitFor((m) => (m.type === 'message_accepted' || m.type === 'error') && m.replyTo === 's1');
    ws.send({ type: 'user_message', id: 's1', text: 'hello' });
    expect(await again).toMatchObject({ type: 'message_accepted', runId: first.runId });

    const other = await registerUser(app.url, 'starts-other');
    const otherWs = await under.open(other);
    const theirs = await send(otherWs, { id: 'o1', text: 'hello' });
    expect((await terminalOf(otherWs, theirs.runId)).type).toBe('agent_completed');
  });
});

describe('MAX_THREADS_PER_USER and MAX_MESSAGES_PER_THREAD', () => {
  const under = useScriptedApp({ MAX_THREADS_PER_USER: '2', MAX_MESSAGES_PER_THREAD: '4' }, scripts);

  it('a third thread is refused thread_limit_reached; a thread with no room for a message and its answer, thread_full', async () => {
    const { app } = under;
    const user = await registerUser(app.url, 'caps');
    const ws = await under.open(user);
    const a = await send(ws, { id: 'a1', text: 'first thread' });
    await terminalOf(ws, a.runId);
    const b = await send(ws, { id: 'b1', text: 'second thread' });
    await terminalOf(ws, b.runId);

    ws.send({ type: 'user_message', id: 'c1', text: 'third thread' });
    expect(await errorFor(ws, 'c1')).toMatchObject({
      code: 'thread_limit_reached',
      message: expect.stringContaining('2'),
    });
    const overAgui = await aguiRun(app.url, user, randomUUID(), 'third thread over AG-UI');
    expect(overAgui.status).toBe(409);
    expect(overAgui.body).toMatchObject({ error: { code: 'thread_limit_reached' } });

    // An existing thread takes messages until it is full: two runs are four messages.
    const a2 = await send(ws, { id: 'a2', text: 'more', threadId: a.threadId });
    await terminalOf(ws, a2.runId);
    ws.send({ type: 'user_message', id: 'a3', text: 'even more', threadId: a.threadId });
    expect(await errorFor(ws, 'a3')).toMatchObject({
      code: 'thread_full',
      message: expect.stringContaining('new thread'),
    });
    const fullOverAgui = await aguiRun(app.url, user, a.threadId, 'more over AG-UI');
    expect(fullOverAgui.status).toBe(409);
    expect(fullOverAgui.body).toMatchObject({ error: { code: 'thread_full' } });
    const messages = await request<MessagesResponse>(app.url, 'GET', `/threads/${a.threadId}/messages`, {
      token: user.accessToken,
    });
    expect(messages.body.messages).toHaveLength(4);

    // Caps are per user.
    const other = await registerUser(app.url, 'caps-other');
    const otherWs = await under.open(other);
    await terminalOf(otherWs, (await send(otherWs, { id: 'x', text: 'mine' })).runId);
  });
});

describe('paged reads and the history window', () => {
  const under = useScriptedApp({ RUN_HISTORY_MESSAGES: '3', RUN_HISTORY_CHARS: '40' }, scripts);

  it('GET /threads pages newest activity first with ?limit and ?before, each thread once; bad pages are 400', async () => {
    const { app } = under;
    const user = await registerUser(app.url, 'pages');
    const ws = await under.open(user);
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      const ack = await send(ws, { id: `t${i}`, text: `thread ${i}` });
      await terminalOf(ws, ack.runId);
      created.push(ack.threadId);
    }
    const token = user.accessToken;
    const seen: string[] = [];
    let path = '/threads?limit=2';
    for (;;) {
      const page = await request<ThreadsResponse>(app.url, 'GET', path, { token });
      expect(page.status).toBe(200);
      expect(page.body.threads.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.threads.map((t) => t.id));
      if (page.body.nextBefore === null) break;
      path = `/threads?limit=2&before=${encodeURIComponent(page.body.nextBefore)}`;
    }
    expect(seen).toEqual([...created].reverse());
    const all = await request<ThreadsResponse>(app.url, 'GET', '/threads', { token });
    expect(all.body).toEqual({ threads: expect.any(Array), nextBefore: null });
    expect(all.body.threads.map((t) => t.id)).toEqual(seen);

    for (const bad of ['limit=0', 'limit=501', 'limit=two', 'before=not-a-cursor', `before=${'x'.repeat(600)}`]) {
      const res = await request(app.url, 'GET', `/threads?${bad}`, { token });
      expect(res.status, bad).toBe(400);
      expect(res.body, bad).toMatchObject({ error: { code: 'invalid_request' } });
    }
    // A cursor of one list is not a cursor of the other.
    const firstPage = await request<ThreadsResponse>(app.url, 'GET', '/threads?limit=1', { token });
    const threadCursor = encodeURIComponent(firstPage.body.nextBefore ?? '');
    const mixed = await request(app.url, 'GET', `/threads/${created[0]}/messages?before=${threadCursor}`, { token });
    expect(mixed.status).toBe(400);
  });

  it('GET /threads/:id/messages gives the most recent page oldest first, then older pages; another user reads 404', async () => {
    const { app } = under;
    const user = await registerUser(app.url, 'message-pages');
    const ws = await under.open(user);
    const first = await send(ws, { id: 'm0', text: 'q0' });
    await terminalOf(ws, first.runId);
    for (let i = 1; i < 3; i++) {
      await terminalOf(ws, (await send(ws, { id: `m${i}`, text: `q${i}`, threadId: first.threadId })).runId);
    }
    const token = user.accessToken;
    const base = `/threads/${first.threadId}/messages`;
    const newest = await request<MessagesResponse>(app.url, 'GET', `${base}?limit=4`, { token });
    expect(newest.body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(newest.body.messages[0]?.text).toBe('q1');
    expect(newest.body.nextBefore).toEqual(expect.any(String));
    const older = await request<MessagesResponse>(
      app.url,
      'GET',
      `${base}?limit=4&before=${encodeURIComponent(newest.body.nextBefore ?? '')}`,
      { token },
    );
    expect(older.body.messages.map((m) => m.text)[0]).toBe('q0');
    expect(older.body.messages).toHaveLength(2);
    expect(older.body.nextBefore).toBeNull();
    const whole = await request<MessagesResponse>(app.url, 'GET', base, { token });
    expect(whole.body.messages.map((m) => m.id)).toEqual(
      [...older.body.messages, ...newest.body.messages].map((m) => m.id),
    );

    const stranger = await registerUser(app.url, 'message-pages-stranger');
    const theirs = await request(app.url, 'GET', `${base}?limit=1`, { token: stranger.accessToken });
    expect(theirs.status).toBe(404);
  });

  it('a run gives its agent the most recent messages that fit RUN_HISTORY_MESSAGES and RUN_HISTORY_CHARS, never opening on an answer', async () => {
    const { app } = under;
    const user = await registerUser(app.url, 'window');
    const ws = await under.open(user);
    const say = async (id: string, text: string, threadId?: string) => {
      const ack = await send(ws, { id, text, ...(threadId === undefined ? {} : { threadId }) });
      return { ack, terminal: (await terminalOf(ws, ack.runId)) as { type: string; text?: string } };
    };
    const { threadId } = (await say('w0', 'script:say a0')).ack;
    await say('w1', 'script:say a1', threadId);
    // The thread holds q0, a0, q1, a1: a window of three would open on a0, an answer, so it is q1, a1.
    const probe = await say('w2', 'script:history', threadId);
    expect(probe.terminal.type).toBe('agent_completed');
    expect(JSON.parse(probe.terminal.text ?? '')).toEqual([
      { role: 'user', text: 'script:say a1' },
      { role: 'assistant', text: 'a1' },
    ]);

    // A message longer than the 40 characters left ends the window: only what came after it is given.
    await say('w3', `script:say long ${'x'.repeat(60)}`, threadId);
    await say('w4', 'script:say z', threadId);
    const after = await say('w5', 'script:history', threadId);
    expect(JSON.parse(after.terminal.text ?? '')).toEqual([
      { role: 'user', text: 'script:say z' },
      { role: 'assistant', text: 'z' },
    ]);
  });
});
