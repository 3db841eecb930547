import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Instance } from '../../src/testing/cluster.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { registerUser, request, SkewedClock } from '../../src/testing/index.js';
import { dripScript } from './helpers/agui.js';
import { useCluster } from './helpers/cluster.js';
import { commonScripts, eventually, ScriptedAgent, send, useTestApp, type User } from './helpers/runs.js';
import { abortOpenStreams, endOf, openSse, refused, sse, type SseStream } from './helpers/sse.js';
import { upgrade } from './helpers/wire.js';

/**
 * Hardening: SSE streams (GET /runs/:id/stream, POST /agui) are held to the rules of sockets. They end when their
 * session is revoked or their access token expires, and say why in a last `stream_closed` event (AG-UI: a comment);
 * each takes one of the user's MAX_CONNECTIONS_PER_USER slots, shared with sockets and counted across instances.
 */

const MAX_CONNECTIONS = 3;
const clock = new SkewedClock();
const server = useTestApp(
  { MAX_CONNECTIONS_PER_USER: String(MAX_CONNECTIONS), ACCESS_TOKEN_TTL_SECONDS: '300' },
  { agent: new ScriptedAgent({ ...commonScripts, drip: dripScript }), now: clock.now },
);
afterAll(abortOpenStreams);

/** A run that drips for about 20 s, started over a socket that is then closed (the run goes on). */
async function longRun(user: User): Promise<string> {
  const ws = await server.open(user);
  const ack = await send(ws, { id: randomUUID(), text: 'script:drip 400 50' });
  ws.close();
  return ack.runId;
}

const stream = (user: User, runId: string, query = ''): Promise<SseStream> =>
  sse(`${server.app.url}/runs/${runId}/stream${query}`, { token: user.accessToken, timeoutMs: 30_000 });

/** The AG-UI stream of a new long run. */
const aguiStream = (user: User): Promise<SseStream> =>
  sse(`${server.app.url}/agui`, {
    method: 'POST',
    token: user.accessToken,
    timeoutMs: 30_000,
    body: {
      threadId: randomUUID(),
      runId: randomUUID(),
      messages: [{ id: 'm1', role: 'user', content: 'script:drip 400 50' }],
      tools: [],
      context: [],
      state: {},
      forwardedProps: {},
    },
  });

/** The stream ended by the server, its last event `stream_closed` with `code`. */
async function expectClosed(s: SseStream, code: string): Promise<void> {
  expect(await endOf(s, 5_000)).toBe('end');
  const last = s.events.at(-1);
  expect(last?.event).toBe('stream_closed');
  expect(JSON.parse(last?.data ?? '{}')).toMatchObject({ code });
}

async function expectAguiClosed(s: SseStream, code: string): Promise<void> {
  expect(await endOf(s, 5_000)).toBe('end');
  expect(s.comments.at(-1)).toMatch(new RegExp(`^stream closed: ${code} `));
}

describe('hardening: SSE streams end with their session', () => {
  it("logout ends the session's streams (agentgate and AG-UI formats) with session_revoked; another session's stream and the run go on", async () => {
    const user = await registerUser(server.app.url, 'sse-logout');
    const other = await request<User>(server.app.url, 'POST', '/auth/login', {
      body: { email: user.email, password: user.password },
    });
    const runId = await longRun(user);
    const plain = await stream(user, runId);
    const agui = await aguiStream(user);
    const survivor = await stream({ ...user, accessToken: other.body.accessToken }, runId);
    await plain.next(() => true);
    const logout = await request(server.app.url, 'POST', '/auth/logout', {
      token: user.accessToken,
      body: { refreshToken: user.refreshToken },
    });
    expect(logout.status).toBe(204);
    await expectClosed(plain, 'session_revoked');
    await expectAguiClosed(agui, 'session_revoked');
    // The other login of the same user keeps streaming.
    const seen = survivor.events.length;
    await survivor.next((e) => Number(e.id) > seen + 1);
    survivor.abort();
  });

  it('refresh-token reuse revokes the family: its streams end session_revoked', async () => {
    const user = await registerUser(server.app.url, 'sse-reuse');
    const s = await stream(user, await longRun(user));
    const first = await request(server.app.url, 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } });
    expect(first.status).toBe(200);
    const replay = await request(server.app.url, 'POST', '/auth/refresh', {
      body: { refreshToken: user.refreshToken },
    });
    expect(replay.status).toBe(401);
    await expectClosed(s, 'session_revoked');
  });

  it('access-token expiry ends the stream token_expired (as a socket closes 4001)', async () => {
    const user = await registerUser(server.app.url, 'sse-expiry');
    const s = await stream(user, await longRun(user));
    await s.next(() => true);
    clock.skewMs = 301_000;
    try {
      await expectClosed(s, 'token_expired');
    } finally {
      clock.skewMs = 0;
    }
  });
});

describe('hardening: SSE streams count toward MAX_CONNECTIONS_PER_USER', () => {
  it('3 streams fill the slots: a 4th stream and a socket get 429 too_many_connections; ending one frees its slot', async () => {
    const user = await registerUser(server.app.url, 'sse-count');
    const runId = await longRun(user);
    const streams = [await stream(user, runId), await stream(user, runId), await aguiStream(user)];
    const fourth = await refused(`${server.app.url}/runs/${runId}/stream`, { token: user.accessToken });
    expect(fourth.status).toBe(429);
    expect(fourth.headers.get('retry-after')).toBe('5');
    expect(JSON.parse(fourth.text)).toMatchObject({ error: { code: 'too_many_connections' } });
    const socket = await upgrade(server.app, { authorization: `Bearer ${user.accessToken}` });
    expect(socket.status).toBe(429);
    // Another user is not affected.
    const other = await registerUser(server.app.url, 'sse-count-other');
    const theirs = await stream(other, await longRun(other));
    theirs.abort();
    streams[0]?.abort();
    let replacement: SseStream | undefined;
    await eventually(
      async () => {
        const attempt = await openSse(`${server.app.url}/runs/${runId}/stream`, { token: user.accessToken });
        if ('events' in attempt) replacement = attempt;
        return replacement !== undefined;
      },
      5_000,
      'a freed slot',
    );
    expect(replacement?.status).toBe(200);
    for (const s of streams) s.abort();
    replacement?.abort();
  });
});

describeWithServices(['postgres', 'redis'], 'hardening: SSE streams across instances', () => {
  const cluster = useCluster(2, { MAX_CONNECTIONS_PER_USER: String(MAX_CONNECTIONS), INSTANCE_LEASE_MS: '2000' });
  let a: Instance;
  let b: Instance;
  beforeAll(() => {
    [a, b] = cluster.instances as [Instance, Instance];
  });

  /** A run of the offline agent that waits 20 s, started on `instance`. */
  async function waitingRun(instance: Instance, user: User): Promise<string> {
    const ws = await cluster.open(instance, user);
    const ack = await send(ws, { id: randomUUID(), text: 'wait 20 seconds' });
    ws.close();
    return ack.runId;
  }
  const streamOn = (instance: Instance, user: User, runId: string): Promise<SseStream> =>
    sse(`${instance.url}/runs/${runId}/stream`, { token: user.accessToken, timeoutMs: 30_000 });

  it('a logout on one instance ends the stream open on another, with session_revoked', async () => {
    const user = await registerUser(a.url, 'sse-cluster-logout');
    const s = await streamOn(b, user, await waitingRun(a, user));
    await s.next(() => true);
    const logout = await request(a.url, 'POST', '/auth/logout', {
      token: user.accessToken,
      body: { refreshToken: user.refreshToken },
    });
    expect(logout.status).toBe(204);
    await expectClosed(s, 'session_revoked');
  });

  it('streams and sockets on both instances share the slots: past the limit, either instance answers 429', async () => {
    const user = await registerUser(a.url, 'sse-cluster-count');
    const runId = await waitingRun(a, user);
    const held = [await streamOn(a, user, runId), await streamOn(b, user, runId), await streamOn(a, user, runId)];
    for (const instance of [a, b]) {
      const refusal = await refused(`${instance.url}/runs/${runId}/stream`, { token: user.accessToken });
      expect(refusal.status).toBe(429);
      expect((await upgrade(`${instance.url}/ws`, { authorization: `Bearer ${user.accessToken}` })).status).toBe(429);
    }
    for (const s of held) s.abort();
  });
});
