import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ThreadsResponse } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, type TestApp } from '../../src/testing/index.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { createTestDatabase, TEST_REDIS_URL, testRedisPrefix } from '../../src/testing/services.js';
import { connect, errorFor, eventOf, send, terminalOf, useTestApp, type User } from './helpers/runs.js';

/** Issue 24.2: past its capacity an instance refuses new work at once, with a retry hint, and finishes what it took. */

function aguiRun(url: string, user: User, text: string) {
  return request(url, 'POST', '/agui', {
    token: user.accessToken,
    body: {
      threadId: randomUUID(),
      runId: randomUUID(),
      state: {},
      messages: [{ id: randomUUID(), role: 'user', content: text }],
    },
    headers: { accept: 'text/event-stream' },
  });
}

describe('MAX_ACTIVE_RUNS: the runs one instance holds at most', () => {
  const under = useTestApp({ MAX_ACTIVE_RUNS: '2' });

  it('refuses the next run overloaded (socket error with retryAfterSeconds, 503 + Retry-After over HTTP), stores nothing for it, and takes it again once a run ends', async () => {
    const { app } = under;
    const alice = await registerUser(app.url, 'capacity-a');
    const bob = await registerUser(app.url, 'capacity-b');
    const aliceWs = await under.open(alice);
    const bobWs = await under.open(bob);
    const first = await send(aliceWs, { id: 'a1', text: 'wait 30 seconds' });
    const second = await send(bobWs, { id: 'b1', text: 'wait 30 seconds' });
    await eventOf(aliceWs, first.runId, 'tool_executing');
    await eventOf(bobWs, second.runId, 'tool_executing');

    aliceWs.send({ type: 'user_message', id: 'a2', text: 'calculate 1+1' });
    const refused = await errorFor(aliceWs, 'a2');
    expect(refused).toMatchObject({
      code: 'overloaded',
      replyTo: 'a2',
      message: expect.stringContaining('MAX_ACTIVE_RUNS'),
    });
    expect((refused as { retryAfterSeconds?: number }).retryAfterSeconds).toBe(1);

    const overHttp = await aguiRun(app.url, bob, 'calculate 2+2');
    expect(overHttp.status).toBe(503);
    expect(overHttp.headers.get('retry-after')).toBe('1');
    expect(overHttp.body).toMatchObject({ error: { code: 'overloaded' } });

    // Nothing was stored for the refused runs: each user still has one thread.
    for (const user of [alice, bob]) {
      const threads = await request<ThreadsResponse>(app.url, 'GET', '/threads', { token: user.accessToken });
      expect(threads.body.threads).toHaveLength(1);
    }

    aliceWs.send({ type: 'cancel_run', runId: first.runId });
    expect(await terminalOf(aliceWs, first.runId)).toMatchObject({ type: 'run_cancelled' });
    // The refused id was not taken: the same message, sent again, is a new run now that there is room.
    const retried = aliceWs.waitFor((m) => (m.type === 'message_accepted' || m.type === 'error') && m.replyTo === 'a2');
    aliceWs.send({ type: 'user_message', id: 'a2', text: 'calculate 1+1' });
    const ack = await retried;
    if (ack.type !== 'message_accepted') throw new Error(`refused again: ${JSON.stringify(ack)}`);
    expect(await terminalOf(aliceWs, ack.runId)).toMatchObject({ type: 'agent_completed' });
    bobWs.send({ type: 'cancel_run', runId: second.runId });
    await terminalOf(bobWs, second.runId);
  });
});

describeWithServices(['postgres', 'redis'], 'DATABASE_QUEUE_WAIT_MS: a statement waiting for the pool', () => {
  let app: TestApp;
  let db: { url: string; drop(): Promise<void> };
  let locker: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    app = await createTestApp({
      DATABASE_URL: db.url,
      DATABASE_POOL_SIZE: '1',
      DATABASE_QUEUE_WAIT_MS: '200',
      REDIS_URL: TEST_REDIS_URL!,
      REDIS_KEY_PREFIX: testRedisPrefix(),
      JWT_SECRET_KEY: 'overload-test-secret-0123456789abcdefghijklmnop',
    });
    locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
  });
  afterAll(async () => {
    await locker?.end();
    await app?.close();
    await db?.drop();
  });

  it('once a statement has waited past the limit new runs are refused overloaded at once, while the runs already admitted wait for the database and complete', async () => {
    const user = await registerUser(app.url, 'queue');
    // Messages of one socket are handled one after another: three sockets, so each admission runs on its own.
    const [held, queued, probe] = await Promise.all([connect(app, user), connect(app, user), connect(app, user)]);
    try {
      // Another client holds the runs table: the instance's one connection blocks on it, and the next statement queues.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE runs IN ACCESS EXCLUSIVE MODE');
      held.send({ type: 'user_message', id: 'held', text: 'calculate 1+1' });
      // The first admission now waits on the lock, holding the one connection...
      await waitUntil(async () => {
        const blocked = await locker.query<{ n: string }>(
          "SELECT count(*)::text AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        );
        return blocked.rows[0]!.n !== '0';
      });
      // ...the second waits for that connection and has waited past 200 ms after 300...
      queued.send({ type: 'user_message', id: 'queued', text: 'calculate 2+2' });
      await delay(300);
      // ...and the third finds it waiting too long.
      probe.send({ type: 'user_message', id: 'probe', text: 'calculate 3+3' });
      const refused = await probe.next(
        (m) => (m.type === 'error' || m.type === 'message_accepted') && m.replyTo === 'probe',
      );
      expect(refused).toMatchObject({
        message: expect.stringContaining('DATABASE_QUEUE_WAIT_MS'),
        retryAfterSeconds: 1,
      });

      await locker.query('COMMIT');
      for (const [socket, id] of [
        [held, 'held'],
        [queued, 'queued'],
      ] as const) {
        const ack = await socket.next((m) => m.type === 'message_accepted' && m.replyTo === id, 15_000);
        if (ack.type !== 'message_accepted') throw new Error('not accepted');
        expect(await terminalOf(socket, ack.runId)).toMatchObject({ type: 'agent_completed' });
      }
    } finally {
      await locker.query('ROLLBACK').catch(() => {});
      for (const socket of [held, queued, probe]) socket.close();
    }
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > giveUpAt) throw new Error('condition not met in time');
    await delay(20);
  }
}
