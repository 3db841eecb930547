import { setTimeout as delay } from 'node:timers/promises';
import { beforeAll, expect, it } from 'vitest';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { registerUser, request, TestSocket, wsUrl } from '../../src/testing/index.js';
import { useCluster } from './helpers/cluster.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import type { Instance } from '../../src/testing/cluster.js';
import { connectTestRedis } from '../../src/testing/services.js';
import { eventually, range, seqs, type Ack, type Established, type User } from './helpers/runs.js';
import { endOf, payloads, sse } from './helpers/sse.js';

const LEASE_MS = 2_000;
const MAX_CONNECTIONS = 3;

describeWithServices(['postgres', 'redis'], 'scale-out: three instances sharing PostgreSQL and Redis', () => {
  const cluster = useCluster(
    3,
    { INSTANCE_LEASE_MS: String(LEASE_MS), MAX_CONNECTIONS_PER_USER: String(MAX_CONNECTIONS) },
    90_000,
  );
  const open = (instance: Instance, user: User): Promise<TestSocket> => cluster.open(instance, user);
  let a: Instance;
  let b: Instance;
  let c: Instance;
  beforeAll(() => {
    [a, b, c] = cluster.instances as [Instance, Instance, Instance];
  });

  async function ticketFrom(instance: Instance, user: User): Promise<string> {
    const res = await request<{ ticket: string }>(instance.url, 'POST', '/ws/ticket', {
      token: user.accessToken,
      body: {},
    });
    expect(res.status).toBe(201);
    return res.body.ticket;
  }

  async function chat(ws: TestSocket, id: string, text: string): Promise<Ack> {
    ws.send({ type: 'user_message', id, text });
    return (await ws.next((m) => m.type === 'message_accepted' && m.replyTo === id)) as Ack;
  }

  const terminal = (ws: TestSocket, runId: string, timeoutMs = 15_000) => ws.runEvents(runId, timeoutMs);

  it('instances are distinct processes with distinct ids, and a user registered on one logs in on another', async () => {
    expect(new Set([a.instanceId, b.instanceId, c.instanceId]).size).toBe(3);
    expect(new Set([a.url, b.url, c.url]).size).toBe(3);
    const user = await registerUser(a.url, 'everywhere');
    const login = await request(b.url, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
    expect(login.status).toBe(200);
    expect((await request(c.url, 'GET', '/auth/me', { token: user.accessToken })).status).toBe(200);
    for (const i of [a, b, c]) {
      const ready = await request<{ status: string }>(i.url, 'GET', '/health/ready');
      expect(ready.status).toBe(200);
    }
  });

  it('a ticket issued by instance 1 is redeemed on instance 2, and its replay on instance 3 gets 401', async () => {
    const user = await registerUser(a.url, 'ticket');
    const ticket = await ticketFrom(a, user);
    const ws = await TestSocket.open(wsUrl(b.url, `?ticket=${ticket}`));
    cluster.adopt(ws);
    expect((ws.messages[0] as Established).userId).toBe(user.user.id);
    await expect(TestSocket.open(wsUrl(c.url, `?ticket=${ticket}`))).rejects.toMatchObject({ status: 401 });
    // Ten instances racing for one ticket: one wins.
    const raced = await ticketFrom(c, user);
    const attempts = await Promise.allSettled(
      [a, b, c, a, b, c].map((i) => TestSocket.open(wsUrl(i.url, `?ticket=${raced}`))),
    );
    for (const r of attempts) if (r.status === 'fulfilled') cluster.adopt(r.value);
    expect(attempts.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(
      attempts.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { status?: number }).status] : [])),
    ).toEqual(Array(5).fill(401));
  });

  it('sockets on two instances receive every event of runs started on either, exactly once and in seq order; another user gets none', async () => {
    const user = await registerUser(a.url, 'fanout');
    const stranger = await registerUser(b.url, 'stranger');
    const onA = await open(a, user);
    const onB = await open(b, user);
    const strangerWs = await open(b, stranger);
    const acks = await Promise.all([
      chat(onA, 'from-a-1', 'calculate 6*7'),
      chat(onB, 'from-b-1', 'what time is it?'),
      chat(onA, 'from-a-2', 'calculate 2^10'),
      chat(onB, 'from-b-2', 'hello'),
    ]);
    for (const ack of acks) {
      const seenOnA = await terminal(onA, ack.runId);
      const seenOnB = await terminal(onB, ack.runId);
      expect(verifyRunEvents(seenOnA)).toEqual([]);
      expect(seqs(seenOnA)).toEqual(range(1, seenOnA.length));
      expect(seenOnB).toEqual(seenOnA);
      expect(seenOnA.at(-1)?.type).toBe('agent_completed');
      // What the sockets saw is what is stored, read through the third instance.
      const stored = await request<{ events: RunEvent[] }>(c.url, 'GET', `/runs/${ack.runId}/events?after=0`, {
        token: user.accessToken,
      });
      expect(stored.body.events).toEqual(seenOnA);
    }
    // message_added from the other instance's submissions reached both sockets too.
    for (const ws of [onA, onB]) {
      expect(
        ws.messages
          .filter((m) => m.type === 'message_added')
          .map((m) => (m as { runId: string }).runId)
          .sort(),
      ).toEqual(acks.map((x) => x.runId).sort());
    }
    expect(strangerWs.messages.filter((m) => m.type !== 'connection_established')).toEqual([]);
  });

  it('a connection opened on another instance mid-run lists the run in activeRuns, resumes it and gets every event once', async () => {
    const user = await registerUser(a.url, 'late');
    const starter = await open(a, user);
    const ack = await chat(starter, 'long', 'wait 2 seconds');
    await starter.next((m) => m.type === 'tool_executing' && 'runId' in m && m.runId === ack.runId);
    const late = await open(c, user);
    const active = (late.messages[0] as Established).activeRuns;
    expect(active).toEqual([expect.objectContaining({ runId: ack.runId, threadId: ack.threadId })]);
    late.send({ type: 'resume', id: 'r', runId: ack.runId, afterSeq: 0 });
    const all = await terminal(late, ack.runId);
    expect(seqs(all)).toEqual(range(1, all.length));
    expect(all).toEqual(await terminal(starter, ack.runId));
  });

  it("GET /runs/:id/stream on another instance than the run's follows it live to the end, every event once, in order", async () => {
    const user = await registerUser(a.url, 'sse-remote');
    const ws = await open(a, user);
    const ack = await chat(ws, 'sse', 'wait 2 seconds');
    await ws.next((m) => m.type === 'tool_executing' && 'runId' in m && m.runId === ack.runId);
    const stream = await sse(`${b.url}/runs/${ack.runId}/stream`, { token: user.accessToken });
    expect(await endOf(stream, 10_000)).toBe('end');
    const events = payloads<RunEvent>(stream.events);
    expect(seqs(events)).toEqual(range(1, events.length));
    expect(events).toEqual(await terminal(ws, ack.runId));
  });

  it("POST /runs/:id/cancel and cancel_run on another instance than the run's stop it with run_cancelled", async () => {
    const user = await registerUser(a.url, 'cancel');
    const ws = await open(a, user);
    const first = await chat(ws, 'w1', 'wait 30 seconds');
    await ws.next((m) => m.type === 'tool_executing' && 'runId' in m && m.runId === first.runId);
    const started = Date.now();
    expect((await request(b.url, 'POST', `/runs/${first.runId}/cancel`, { token: user.accessToken })).status).toBe(202);
    expect((await terminal(ws, first.runId, 5_000)).at(-1)?.type).toBe('run_cancelled');
    expect(Date.now() - started).toBeLessThan(3_000);
    // Someone else's cancel on yet another instance is a 404 and stops nothing.
    const second = await chat(ws, 'w2', 'wait 30 seconds');
    await ws.next((m) => m.type === 'tool_executing' && 'runId' in m && m.runId === second.runId);
    const other = await registerUser(c.url, 'not-owner');
    expect((await request(c.url, 'POST', `/runs/${second.runId}/cancel`, { token: other.accessToken })).status).toBe(
      404,
    );
    const remote = await open(c, user);
    remote.send({ type: 'cancel_run', id: 'x', runId: second.runId });
    expect((await terminal(ws, second.runId, 5_000)).at(-1)?.type).toBe('run_cancelled');
  });

  it('the per-user connection limit holds across instances', async () => {
    const user = await registerUser(a.url, 'limit');
    const first = await open(a, user);
    await open(b, user);
    await open(c, user);
    for (const i of [a, b, c]) await expect(open(i, user)).rejects.toMatchObject({ status: 429 });
    // Closing one anywhere frees a slot everywhere.
    first.close();
    await eventually(
      async () =>
        open(c, user).then(
          () => true,
          () => false,
        ),
      5_000,
      'a freed slot',
    );
  });

  it('Redis restarting empty ends no live run: a run waiting on a tool while every key vanishes completes normally', async () => {
    const user = await registerUser(a.url, 'redis-empty');
    const onA = await open(a, user);
    const watcher = await open(b, user);
    const ack = await chat(onA, 'idle', 'wait 9 seconds');
    await watcher.next((m) => m.type === 'tool_executing' && 'runId' in m && m.runId === ack.runId);
    // What a restart of an empty Redis does to this cluster: every key of it is gone at once, liveness included.
    // Several restarts while the run waits, each more than a lease after the last (as restarts are), so that some
    // sweep of the other instances (every LEASE_MS / 2) comes between a wipe and instance a's renewal (within
    // LEASE_MS / 3): it must not take a for dead. (Wipes closer than that would keep a key missing at every sample,
    // which no sampling of liveness can tell from a death.)
    const redis = await connectTestRedis(cluster.cluster().env.REDIS_KEY_PREFIX);
    const ended = terminal(watcher, ack.runId, 20_000);
    let wipes = 0;
    let done = false;
    void ended.finally(() => (done = true)).catch(() => {});
    try {
      while (!done) {
        const keys = await redis.commands.keys(`${redis.keyPrefix}*`);
        if (keys.length > 0) await redis.commands.del(...keys);
        wipes += 1;
        await delay(LEASE_MS + 200);
      }
    } finally {
      await redis.close();
    }
    const events = await ended;
    expect(wipes).toBeGreaterThanOrEqual(4);
    expect(verifyRunEvents(events)).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed' });
  });

  it('SIGKILL of the instance running a run: no persisted event is lost, the run ends interrupted for sockets elsewhere, and its connection slots expire', async () => {
    const user = await registerUser(a.url, 'crash');
    const victim = await cluster.cluster().start();
    const onVictim = await open(victim, user);
    await open(victim, user);
    const watcher = await open(a, user);
    const ack = await chat(onVictim, 'doomed', 'wait 30 seconds');
    await watcher.next((m) => m.type === 'tool_executing' && 'runId' in m && m.runId === ack.runId);
    const seenBeforeCrash = watcher.eventsOf(ack.runId);

    await victim.kill();
    // The orphan sweep of a surviving instance ends the run once the victim's lease has expired.
    const events = await terminal(watcher, ack.runId, LEASE_MS * 4 + 5_000);
    expect(events.slice(0, seenBeforeCrash.length)).toEqual(seenBeforeCrash);
    expect(verifyRunEvents(events)).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'agent_error', code: 'interrupted' });
    const stored = await request<{ events: RunEvent[] }>(b.url, 'GET', `/runs/${ack.runId}/events?after=0`, {
      token: user.accessToken,
    });
    expect(stored.body.events).toEqual(events);
    const thread = await request<{ thread: { runs: Array<{ id: string; status: string }> } }>(
      c.url,
      'GET',
      `/threads/${ack.threadId}`,
      { token: user.accessToken },
    );
    expect(thread.body.thread.runs).toEqual([expect.objectContaining({ id: ack.runId, status: 'interrupted' })]);

    // The victim held two of this user's three slots: they expire with its lease, so three sockets fit again.
    await eventually(
      async () => {
        const extra = await Promise.allSettled([open(b, user), open(c, user)]);
        return extra.every((r) => r.status === 'fulfilled');
      },
      LEASE_MS * 3 + 2_000,
      "the crashed instance's slots expiring",
    );
    // It starts a fourth instance (a tsx compile) mid-test: past 30 s when the machine is busy.
  }, 90_000);
});
