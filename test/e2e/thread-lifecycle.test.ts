import { describe, expect, it } from 'vitest';
import type { ThreadsResponse } from '../../src/protocol/index.js';
import { registerUser, request, SkewedClock } from '../../src/testing/index.js';
import { eventOf, send, terminalOf, useTestApp } from './helpers/runs.js';

/**
 * Renaming and deleting one's threads, and deleting one's account (issue 25.5): only one's own, and a delete takes
 * everything in it along.
 */

const under = useTestApp();

describe('threads: rename and delete', () => {
  it("PATCH renames one's own thread (trimmed, 1-200 characters); another user's thread is 404 and stays as it was", async () => {
    const { app } = under;
    const [owner, stranger] = await Promise.all([registerUser(app.url, 'rename'), registerUser(app.url, 'rename-x')]);
    const ws = await under.open(owner);
    const ack = await send(ws, { id: 'r', text: 'first title' });
    await terminalOf(ws, ack.runId);
    const before = (await request<ThreadsResponse>(app.url, 'GET', '/threads', { token: owner.accessToken })).body;
    const path = `/threads/${ack.threadId}`;

    const renamed = await request(app.url, 'PATCH', path, {
      token: owner.accessToken,
      body: { title: '  Trip plans  ' },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ thread: { id: ack.threadId, title: 'Trip plans' } });
    const after = (await request<ThreadsResponse>(app.url, 'GET', '/threads', { token: owner.accessToken })).body;
    expect(after.threads[0]).toEqual({ ...before.threads[0], title: 'Trip plans' });

    for (const title of ['', '   ', 'x'.repeat(201)]) {
      const bad = await request(app.url, 'PATCH', path, { token: owner.accessToken, body: { title } });
      expect(bad.status, JSON.stringify(title)).toBe(400);
    }
    const theirs = await request(app.url, 'PATCH', path, { token: stranger.accessToken, body: { title: 'mine now' } });
    expect(theirs.status).toBe(404);
    expect(
      (await request(app.url, 'PATCH', '/threads/nope', { token: owner.accessToken, body: { title: 't' } })).status,
    ).toBe(404);
    const still = (await request<ThreadsResponse>(app.url, 'GET', '/threads', { token: owner.accessToken })).body;
    expect(still.threads[0]?.title).toBe('Trip plans');
  });

  it("DELETE removes one's own thread with its messages, runs and events; another user's is 404 and untouched", async () => {
    const { app } = under;
    const [owner, stranger] = await Promise.all([registerUser(app.url, 'delete'), registerUser(app.url, 'delete-x')]);
    const [ws, theirWs] = await Promise.all([under.open(owner), under.open(stranger)]);
    const ack = await send(ws, { id: 'd', text: 'calculate 2+2' });
    await terminalOf(ws, ack.runId);
    const theirs = await send(theirWs, { id: 't', text: 'calculate 3+3' });
    await terminalOf(theirWs, theirs.runId);

    const attack = await request(app.url, 'DELETE', `/threads/${theirs.threadId}`, { token: owner.accessToken });
    expect(attack.status).toBe(404);
    expect((await request(app.url, 'GET', `/threads/${theirs.threadId}`, { token: stranger.accessToken })).status).toBe(
      200,
    );

    const token = owner.accessToken;
    expect((await request(app.url, 'DELETE', `/threads/${ack.threadId}`, { token })).status).toBe(204);
    for (const path of [`/threads/${ack.threadId}`, `/threads/${ack.threadId}/messages`, `/runs/${ack.runId}/events`]) {
      expect({ path, status: (await request(app.url, 'GET', path, { token })).status }).toEqual({ path, status: 404 });
    }
    expect((await request<ThreadsResponse>(app.url, 'GET', '/threads', { token })).body.threads).toEqual([]);
    expect((await request(app.url, 'DELETE', `/threads/${ack.threadId}`, { token })).status).toBe(404);
    // The other user's thread is all there.
    const theirMessages = await request<{ messages: unknown[] }>(
      app.url,
      'GET',
      `/threads/${theirs.threadId}/messages`,
      {
        token: stranger.accessToken,
      },
    );
    expect(theirMessages.body.messages).toHaveLength(2);
  });

  it('DELETE of a thread with a run in progress cancels the run first: its sockets see run_cancelled, then it is gone', async () => {
    const { app } = under;
    const owner = await registerUser(app.url, 'delete-running');
    const ws = await under.open(owner);
    const ack = await send(ws, { id: 'w', text: 'wait 30 seconds' });
    await eventOf(ws, ack.runId, 'tool_executing');
    const started = Date.now();
    const res = await request(app.url, 'DELETE', `/threads/${ack.threadId}`, { token: owner.accessToken });
    expect(res.status).toBe(204);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await terminalOf(ws, ack.runId, 5_000)).toMatchObject({ type: 'run_cancelled' });
    expect((await request(app.url, 'GET', `/runs/${ack.runId}/events`, { token: owner.accessToken })).status).toBe(404);
    // The user can go on: a new thread works.
    const next = await send(ws, { id: 'n', text: 'calculate 1+1' });
    expect(await terminalOf(ws, next.runId)).toMatchObject({ type: 'agent_completed' });
  });
});

describe('accounts: DELETE /auth/me', () => {
  const demo = useTestApp({ DEMO_MODE: '1' });

  it('needs the password; then stops the runs, closes the sockets, refuses the tokens and forgets everything of the user, and no one else', async () => {
    const { app } = under;
    const [owner, neighbour] = await Promise.all([registerUser(app.url, 'leaving'), registerUser(app.url, 'staying')]);
    const [ws, theirWs] = await Promise.all([under.open(owner), under.open(neighbour)]);
    const done = await send(ws, { id: 'a', text: 'calculate 1+1' });
    await terminalOf(ws, done.runId);
    const running = await send(ws, { id: 'b', text: 'wait 30 seconds' });
    await eventOf(ws, running.runId, 'tool_executing');
    const theirs = await send(theirWs, { id: 't', text: 'calculate 2+2' });
    await terminalOf(theirWs, theirs.runId);

    const token = owner.accessToken;
    for (const body of [{}, { password: 'not my password' }]) {
      const refused = await request(app.url, 'DELETE', '/auth/me', { token, body });
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({ error: { code: 'invalid_credentials' } });
    }
    expect((await request(app.url, 'GET', '/auth/me', { token })).status).toBe(200);

    const closed = ws.waitClose(10_000);
    const gone = await request(app.url, 'DELETE', '/auth/me', { token, body: { password: 'correct horse battery' } });
    expect(gone.status).toBe(204);
    expect(await terminalOf(ws, running.runId)).toMatchObject({ type: 'run_cancelled' });
    expect(await closed).toMatchObject({ code: 1008, reason: 'session revoked' });
    expect((await request(app.url, 'GET', '/auth/me', { token })).status).toBe(401);
    expect((await request(app.url, 'GET', '/threads', { token })).status).toBe(401);
    expect(
      (await request(app.url, 'POST', '/auth/refresh', { body: { refreshToken: owner.refreshToken } })).status,
    ).toBe(401);
    const login = { email: owner.user.email, password: 'correct horse battery' };
    expect((await request(app.url, 'POST', '/auth/login', { body: login })).status).toBe(401);
    // The email is free again: a new account, with nothing of the old one.
    const again = await request<{ accessToken: string }>(app.url, 'POST', '/auth/register', { body: login });
    expect(again.status).toBe(201);
    expect(
      (await request<ThreadsResponse>(app.url, 'GET', '/threads', { token: again.body.accessToken })).body.threads,
    ).toEqual([]);
    expect(
      (await request(app.url, 'GET', `/runs/${done.runId}/events`, { token: again.body.accessToken })).status,
    ).toBe(404);
    // The neighbour lost nothing.
    const theirThreads = await request<ThreadsResponse>(app.url, 'GET', '/threads', { token: neighbour.accessToken });
    expect(theirThreads.body.threads.map((t) => t.id)).toEqual([theirs.threadId]);
  });

  it('a demo user, who has no password anyone knows, deletes with the token alone', async () => {
    const created = await request<{ accessToken: string }>(demo.app.url, 'POST', '/auth/demo', { body: {} });
    expect(created.status).toBe(201);
    const token = created.body.accessToken;
    expect((await request(demo.app.url, 'DELETE', '/auth/me', { token })).status).toBe(204);
    expect((await request(demo.app.url, 'GET', '/auth/me', { token })).status).toBe(401);
  });
});

describe('retention: THREAD_RETENTION_DAYS and DEMO_USER_RETENTION_HOURS', () => {
  const clock = new SkewedClock();
  const aged = useTestApp({ DEMO_MODE: '1', THREAD_RETENTION_DAYS: '1' }, { now: clock.now });

  it('deletes threads idle longer than the setting (not one with a run in progress) and demo users older than theirs', async () => {
    const { app } = aged;
    clock.skewMs = 0;
    const user = await registerUser(app.url, 'retention');
    const ws = await aged.open(user);
    const idle = await send(ws, { id: 'old', text: 'calculate 1+1' });
    await terminalOf(ws, idle.runId);
    const busy = await send(ws, { id: 'busy', text: 'wait 30 seconds' });
    await eventOf(ws, busy.runId, 'tool_executing');
    const demo = await request<{ accessToken: string }>(app.url, 'POST', '/auth/demo', { body: {} });
    expect(demo.status).toBe(201);

    clock.skewMs = 2 * 24 * 3_600_000; // two days later: a new login, the old access token has expired
    const login = await request<{ accessToken: string }>(app.url, 'POST', '/auth/login', {
      body: { email: user.user.email, password: 'correct horse battery' },
    });
    const token = login.body.accessToken;
    const later = await aged.open({ ...user, accessToken: token });
    const fresh = await send(later, { id: 'new', text: 'calculate 2+2' });
    await terminalOf(later, fresh.runId);
    expect(await app.retention.purge()).toEqual({ threads: 1, demoUsers: 1 });

    const threads = (await request<ThreadsResponse>(app.url, 'GET', '/threads', { token })).body.threads;
    expect(threads.map((t) => t.id).sort()).toEqual([busy.threadId, fresh.threadId].sort());
    expect((await request(app.url, 'GET', `/runs/${idle.runId}/events`, { token })).status).toBe(404);
    expect((await request(app.url, 'GET', '/auth/me', { token: demo.body.accessToken })).status).toBe(401);
    expect((await request(app.url, 'GET', '/auth/me', { token })).status).toBe(200);
    expect(await app.retention.purge()).toEqual({ threads: 0, demoUsers: 0 });
    later.send({ type: 'cancel_run', runId: busy.runId });
    // (The first socket saw the run from its start; a later one would resume it first.)
    expect(await terminalOf(ws, busy.runId)).toMatchObject({ type: 'run_cancelled' });
    clock.skewMs = 0;
  });
});
