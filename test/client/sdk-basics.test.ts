import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AgentgateClient as UniversalClient } from '../../src/client/index.js';
import { ClientError, type RunEvent } from '../../src/client/node.js';
import { verifyRunEvents } from '../../src/protocol/index.js';
import { createTestApp, request, type TestApp } from '../../src/testing/index.js';
import { clientOf, collect, oneToN, PASSWORD, recordEvents, recordStates, seqsOf, uniqueEmail } from './helpers.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ DEMO_MODE: '1' });
});
afterAll(async () => {
  await app?.close();
});

const text = (events: readonly RunEvent[]): string =>
  events
    .filter((e) => e.type === 'agent_message_delta')
    .map((e) => (e as { text: string }).text)
    .join('');

describe('SDK: accounts, connect, run', () => {
  it('universal client (ticket auth, ws passed as WebSocket): register, connect, `for await` a run to 84, data calls', async () => {
    const refreshTokens: Array<string | null> = [];
    const client = new UniversalClient({ baseUrl: app.url, WebSocket, onRefreshToken: (t) => refreshTokens.push(t) });
    const states = recordStates(client);
    const seen = recordEvents(client);
    const added: string[] = [];
    client.onMessageAdded((m) => added.push(m.message.text));
    try {
      const email = uniqueEmail('sdk-ticket');
      const user = await client.register(email, PASSWORD, 'Ada');
      expect(user).toMatchObject({ email, displayName: 'Ada', isDemo: false });
      expect(client.user).toEqual(user);
      expect(refreshTokens).toHaveLength(1);
      expect(refreshTokens[0]).toMatch(/^rt_/);

      expect(client.state).toBe('idle');
      await client.connect();
      expect(client.state).toBe('connected');
      expect(states.map((s) => s.state)).toEqual(['connecting', 'connected']);

      const handle = client.run('calculate 12*7');
      const events = await collect(handle);
      const { runId, threadId } = await handle.accepted;
      expect(verifyRunEvents(events)).toEqual([]);
      const done = await handle.done;
      expect(done).toEqual(events.at(-1));
      expect(done.type).toBe('agent_completed');
      expect(done.type === 'agent_completed' && done.text).toContain('84');
      expect(text(events)).toContain('84');
      expect(events.find((e) => e.type === 'tool_executing')).toMatchObject({ tool: 'calculator' });
      // The iterator, onEvent and the stored log agree event for event.
      expect(await client.runEvents(runId)).toEqual(events);
      expect(seen.get(runId)).toEqual(events);
      expect(added).toEqual(['calculate 12*7']);
      // A second iterator over the same handle replays from the start.
      expect(await collect(handle)).toEqual(events);

      expect(await client.threads()).toEqual([expect.objectContaining({ id: threadId, title: 'calculate 12*7' })]);
      expect((await client.messages(threadId)).map((m) => m.role)).toEqual(['user', 'assistant']);

      // The same thread, again: the second run follows the first one.
      const second = await collect(client.run('what is 2+3', { threadId }));
      expect(second[0]).toMatchObject({ type: 'agent_started', threadId });
      expect(text(second)).toContain('5');
    } finally {
      client.close();
    }
    expect(client.state).toBe('closed');
  });

  it('Node client: Bearer header by default, and the subprotocol; login, restore and logout rotate the stored refresh token', async () => {
    const email = uniqueEmail('sdk-bearer');
    const signup = new UniversalClient({ baseUrl: app.url, WebSocket });
    await signup.register(email, PASSWORD);

    const stored: Array<string | null> = [];
    const bearer = clientOf(app, { onRefreshToken: (t) => stored.push(t) });
    await bearer.login(email, PASSWORD);
    await bearer.connect();
    const events = await collect(bearer.run('calculate 6*7'));
    expect(verifyRunEvents(events)).toEqual([]);
    expect(text(events)).toContain('42');

    const viaSubprotocol = clientOf(app, { auth: 'subprotocol' });
    await viaSubprotocol.login(email, PASSWORD);
    await viaSubprotocol.connect();
    expect(viaSubprotocol.state).toBe('connected');
    viaSubprotocol.close();

    // A page reload: a new client restores the login from the stored refresh token, which rotates.
    const saved = stored.at(-1);
    if (typeof saved !== 'string') throw new Error('no refresh token was handed out');
    bearer.close();
    const restored: Array<string | null> = [];
    const reloaded = clientOf(app, { onRefreshToken: (t) => restored.push(t) });
    const user = await reloaded.restore(saved);
    expect(user.email).toBe(email);
    expect(restored).toHaveLength(1);
    expect(restored[0]).not.toBe(saved);
    // The old token is spent: replaying it is reuse, and the whole login is revoked.
    const replay = clientOf(app);
    await expect(replay.restore(saved)).rejects.toMatchObject({ code: 'refresh_token_reused', status: 401 });
    await expect(reloaded.threads()).rejects.toMatchObject({ code: 'invalid_token' });

    const fresh = clientOf(app, { onRefreshToken: (t) => restored.push(t) });
    await fresh.login(email, PASSWORD);
    await fresh.logout();
    expect(restored.at(-1)).toBeNull();
    expect(fresh.user).toBeNull();
    expect(fresh.state).toBe('closed');
    await expect(fresh.threads()).rejects.toMatchObject({ code: 'not_authenticated' });
  });

  it("errors carry stable codes: wrong password, another user's thread, a busy thread, demo users", async () => {
    const client = clientOf(app);
    const wrong = await client.login(uniqueEmail('nobody'), PASSWORD).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ClientError);
    expect(wrong).toMatchObject({ code: 'invalid_credentials', status: 401 });

    const demo = await client.demo();
    expect(demo.isDemo).toBe(true);
    const other = clientOf(app);
    await other.demo();
    const { threadId } = await other.run('calculate 1+1').accepted;
    await expect(client.run('hello', { threadId }).done).rejects.toMatchObject({ code: 'not_found' });
    await expect(client.messages(threadId)).rejects.toMatchObject({ code: 'not_found', status: 404 });

    const slow = client.run('wait 3 seconds');
    const { threadId: busyThread } = await slow.accepted;
    const refused = client.run('and again', { threadId: busyThread, onBusy: 'reject' });
    await expect(refused.accepted).rejects.toMatchObject({ code: 'thread_busy' });
    await expect(collect(refused)).rejects.toMatchObject({ code: 'thread_busy' });
    await slow.cancel();
    expect((await slow.done).type).toBe('run_cancelled');
    client.close();
    other.close();
  });

  it('cancel: handle.cancel() and an AbortSignal end the run run_cancelled; a signal aborted before sending withdraws the message', async () => {
    const client = clientOf(app);
    await client.demo();
    const controller = new AbortController();
    const waiting = client.run('wait 5 seconds', { signal: controller.signal });
    const { runId } = await waiting.accepted;
    controller.abort();
    const events = await collect(waiting);
    expect(verifyRunEvents(events)).toEqual([]);
    expect(events.at(-1)?.type).toBe('run_cancelled');
    await expect(client.cancel(runId)).rejects.toMatchObject({ code: 'run_finished' });

    const early = new AbortController();
    early.abort();
    await expect(client.run('never sent', { signal: early.signal }).accepted).rejects.toMatchObject({
      code: 'aborted',
    });
    const threads = await request<{ threads: unknown[] }>(app.url, 'GET', '/threads', {
      token: await client.accessToken(),
    });
    expect(threads.body.threads).toHaveLength(1);

    // cancel() when offline goes over HTTP.
    const other = client.run('wait 5 seconds');
    const accepted = await other.accepted;
    client.close();
    await client.cancel(accepted.runId);
    const stored = await client.runEvents(accepted.runId);
    await expect
      .poll(async () => (await client.runEvents(accepted.runId)).at(-1)?.type, { timeout: 5_000 })
      .toBe('run_cancelled');
    expect(seqsOf(stored)).toEqual(oneToN(stored.length));
  });
});
