import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTerminalEvent, verifyRunEvents, type RunEvent, type TicketResponse } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { createTestDatabase, TEST_REDIS_URL, testRedisPrefix } from '../../src/testing/services.js';
import { eventually, isRunEvent, range, seqs, settle, type Ack, type User } from './helpers/runs.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { upgrade } from './helpers/wire.js';

/**
 * Scale-out: Redis goes away under a running server and comes back (a TCP proxy between them is cut and restored;
 * the real Redis is never touched). While it is away everything Redis decides fails closed with 503
 * `service_unavailable` — readiness names `redis`, upgrades, tickets, login and refresh (their rate limits live in
 * Redis) — and open sockets stay up; once it is back the same server heals by itself, and a socket that stayed open
 * through the outage receives its run exactly once, in order, to the terminal event. A single Redis request lost
 * mid-flight (the ticket write) is a 503 too, never a 500.
 */

/** Connection slots per user (connection leases live in Redis). */
const MAX_CONNECTIONS = 3;

type Ready = { status: string; components: Record<string, string>; failing?: string[] };
type ErrorBody = { error?: { code?: string } };

const errorCode = (body: unknown): string | undefined => (body as ErrorBody | undefined)?.error?.code;

/** One raw upgrade attempt at `url` (ws://…/ws?…): its HTTP status and error code. A 101 socket is closed at once. */
async function attemptUpgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; code: string | undefined }> {
  const { status, code, socket } = await upgrade(url, headers);
  socket?.destroy();
  return { status, code };
}

describeWithServices(
  ['postgres', 'redis'],
  'scale: Redis outage and recovery (one server, Redis behind a cuttable proxy)',
  () => {
    let proxy: TcpProxy | undefined;
    let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
    let app: TestApp;
    let user: User;
    const sockets: TestSocket[] = [];

    beforeAll(async () => {
      const target = new URL(TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || '6379') });
      database = await createTestDatabase();
      app = await createTestApp({
        DATABASE_URL: database.url,
        DATABASE_POOL_SIZE: '4',
        REDIS_URL: proxy.url(TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'),
        REDIS_KEY_PREFIX: testRedisPrefix(),
        JWT_SECRET_KEY: randomBytes(48).toString('base64'),
        INSTANCE_LEASE_MS: '3000',
        MAX_CONNECTIONS_PER_USER: String(MAX_CONNECTIONS),
      });
      user = await registerUser(app.url, 'redis-outage');
    });

    afterAll(async () => {
      for (const s of sockets) s.close();
      try {
        await app?.close();
      } finally {
        try {
          await proxy?.close();
        } finally {
          await database?.drop();
        }
      }
    });

    const live = (): TcpProxy => {
      if (proxy === undefined) throw new Error('the proxy is not started');
      return proxy;
    };
    const ready = () => request<Ready>(app.url, 'GET', '/health/ready');
    const issueTicket = () =>
      request<TicketResponse>(app.url, 'POST', '/ws/ticket', { token: user.accessToken, body: {} });

    /** A socket opened with a fresh ticket; closed after the suite. */
    async function openWithTicket(): Promise<TestSocket> {
      const ticket = await issueTicket();
      expect(ticket.status, JSON.stringify(ticket.body)).toBe(201);
      const ws = await TestSocket.open(ticket.body.url);
      sockets.push(ws);
      return ws;
    }

    /** Polls /health/ready until it answers `status` (bounded); returns the last answer. */
    async function readyBecomes(status: number, timeoutMs: number): Promise<Awaited<ReturnType<typeof ready>>> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await ready();
        if (res.status === status || Date.now() > deadline) return res;
        await delay(100);
      }
    }

    async function sendMessage(ws: TestSocket, id: string, text: string): Promise<Ack> {
      ws.send({ type: 'user_message', id, text });
      const reply = await ws.next(
        (m) => (m.type === 'message_accepted' || m.type === 'error') && m.replyTo === id,
        10_000,
      );
      if (reply.type === 'error') throw new Error(`user_message ${id} refused: ${JSON.stringify(reply)}`);
      return reply as Ack;
    }

    /** The run as stored in the EventLog (HTTP). */
    async function storedEvents(runId: string): Promise<RunEvent[]> {
      const res = await request<{ events: RunEvent[] }>(app.url, 'GET', `/runs/${runId}/events?after=0`, {
        token: user.accessToken,
      });
      expect(res.status).toBe(200);
      return res.body.events;
    }

    // State carried from "during" to "after".
    let ticketBeforeCut: TicketResponse | undefined;
    let survivor: TestSocket | undefined;

    it('before the outage: /health/ready is 200 with redis ok, and a ticket opens a WebSocket', async () => {
      const res = await ready();
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok', components: { database: 'ok', redis: 'ok', auth: 'ok' } });

      const ws = await openWithTicket();
      expect(ws.messages[0]).toMatchObject({ type: 'connection_established', userId: user.user.id });
      ws.close();
    });

    it('during the outage: readiness 503 names redis; upgrades, tickets, login and refresh fail closed with 503; open sockets stay up', async () => {
      const ticket = await issueTicket();
      expect(ticket.status).toBe(201);
      ticketBeforeCut = ticket.body;
      survivor = await openWithTicket();

      await live().cut();

      const res = await ready();
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        status: 'unavailable',
        components: { database: 'ok', redis: 'unavailable', auth: 'ok' },
        failing: ['redis'],
      });

      // A new WebSocket: refused with an HTTP 503 before any socket exists, whatever the credential.
      expect(await attemptUpgrade(ticketBeforeCut.url)).toEqual({ status: 503, code: 'service_unavailable' });
      expect(await attemptUpgrade(wsUrl(app.url), { authorization: `Bearer ${user.accessToken}` })).toEqual({
        status: 503,
        code: 'service_unavailable',
      });
      // The client library sees the same refusal.
      const refused = await TestSocket.open(wsUrl(app.url), {
        headers: { authorization: `Bearer ${user.accessToken}` },
      }).then(
        (ws) => (ws.close(), 'opened'),
        (err: { status?: number }) => err.status ?? 'no status',
      );
      expect(refused).toBe(503);

      // Tickets live in Redis (and so does their rate limit): 503, never 500.
      const noTicket = await issueTicket();
      expect(noTicket.status, JSON.stringify(noTicket.body)).toBe(503);
      expect(errorCode(noTicket.body)).toBe('service_unavailable');

      // Login and refresh rate limits live in Redis: they fail closed (503), never an unlimited pass (200) or a 500.
      const login = await request(app.url, 'POST', '/auth/login', {
        body: { email: user.email, password: user.password },
      });
      expect(login.status, JSON.stringify(login.body)).toBe(503);
      expect(errorCode(login.body)).toBe('service_unavailable');
      const refresh = await request(app.url, 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } });
      expect(refresh.status, JSON.stringify(refresh.body)).toBe(503);
      expect(errorCode(refresh.body)).toBe('service_unavailable');

      // What does not need Redis still answers: the socket opened before the cut, and the durable API.
      expect(survivor.closed).toBeUndefined();
      survivor.send({ type: 'ping', id: 'p-outage' });
      expect(await survivor.next((m) => m.type === 'pong' && m.replyTo === 'p-outage', 5_000)).toMatchObject({
        type: 'pong',
      });
      expect((await request(app.url, 'GET', '/auth/me', { token: user.accessToken })).status).toBe(200);
      // Still down: nothing above healed it by accident.
      expect((await ready()).status).toBe(503);
    });

    it('after the outage: without a restart, readiness is 200 again, tickets and WebSockets work, and a chat runs to agent_completed', async () => {
      await live().restore();
      const healed = await readyBecomes(200, 15_000);
      expect(healed.status, JSON.stringify(healed.body)).toBe(200);
      expect(healed.body).toEqual({ status: 'ok', components: { database: 'ok', redis: 'ok', auth: 'ok' } });

      const login = await request(app.url, 'POST', '/auth/login', {
        body: { email: user.email, password: user.password },
      });
      expect(login.status, JSON.stringify(login.body)).toBe(200);

      // The ticket presented during the outage could not be spent then; it is spent as soon as Redis is back.
      await eventually(
        async () => (await attemptUpgrade(ticketBeforeCut!.url)).status === 401,
        5_000,
        'the ticket tried during the outage to be spent',
      );

      const ws = await openWithTicket();
      expect(ws.messages[0]).toMatchObject({ type: 'connection_established', userId: user.user.id });
      const ack = await sendMessage(ws, 'm1', 'hello');
      const events = await ws.runEvents(ack.runId, 15_000);
      expect(events.at(-1)?.type).toBe('agent_completed');
      expect(verifyRunEvents(events)).toEqual([]);
      expect(events).toEqual(await storedEvents(ack.runId));

      // The socket that lived through the outage is still up and answering.
      expect(survivor?.closed).toBeUndefined();
      survivor?.send({ type: 'ping', id: 'p-after' });
      await survivor?.next((m) => m.type === 'pong' && m.replyTo === 'p-after', 5_000);
      ws.close();
      await ws.waitClose(5_000);
    });

    it('a socket open through a ~1 s outage mid-run receives the run exactly once, in order 1..N, through agent_completed', async () => {
      await live().restore();
      expect((await readyBecomes(200, 15_000)).status).toBe(200);
      const ws = await openWithTicket();
      const ack = await sendMessage(ws, 'slow', 'please wait 4 seconds');
      const terminalSeen = () => ws.eventsOf(ack.runId).some(isTerminalEvent);
      // The run is under way (its wait tool is running) when Redis goes.
      await ws.next((m) => isRunEvent(m) && m.runId === ack.runId && m.type === 'tool_executing', 5_000);

      await live().cut();
      try {
        expect((await ready()).status).toBe(503);
        await delay(1_000);
      } finally {
        await live().restore();
      }
      // Redis is back (the server reconnected) while the run is still going: its last events come after the outage.
      expect((await readyBecomes(200, 10_000)).status).toBe(200);
      expect(terminalSeen(), 'the run must still be running when Redis is back, or this test checks nothing').toBe(
        false,
      );

      const terminal = await ws.next((m) => isRunEvent(m) && m.runId === ack.runId && isTerminalEvent(m), 15_000);
      expect(terminal.type).toBe('agent_completed');
      // Give a late duplicate or stray event (a re-read of the EventLog after the re-subscription) time to arrive.
      await settle(1_000);

      const events = ws.eventsOf(ack.runId);
      const stored = await storedEvents(ack.runId);
      expect(seqs(events)).toEqual(range(1, stored.length));
      expect(verifyRunEvents(events)).toEqual([]);
      expect(events.map((e) => e.type)).toEqual(
        expect.arrayContaining(['agent_started', 'tool_executing', 'tool_completed', 'agent_completed']),
      );
      expect(events).toEqual(stored);
      expect(ws.closed).toBeUndefined();
    }, 40_000);

    it('POST /ws/ticket answers 503 (not 500) when Redis fails while the ticket itself is being stored', async () => {
      await live().restore();
      expect((await readyBecomes(200, 15_000)).status).toBe(200);
      // The per-user ticket rate limit passes (Redis is up); the ticket's SET is the request lost with the connection.
      const dropped = live().dropWhen((chunk) => chunk.includes('\r\nset\r\n') && chunk.includes(':ticket:'));
      const res = await issueTicket();
      const fired = await Promise.race([dropped.then(() => true), delay(1_000).then(() => false)]);
      expect(fired, 'the ticket SET must have been dropped').toBe(true);
      expect(res.status, JSON.stringify(res.body)).toBe(503);
      expect(errorCode(res.body)).toBe('service_unavailable');
      // The server heals by itself (ioredis reconnects through the proxy, which stayed up).
      expect((await readyBecomes(200, 15_000)).status).toBe(200);
      expect((await issueTicket()).status).toBe(201);
    });

    it('after an outage longer than INSTANCE_LEASE_MS, the sockets that stayed open count against MAX_CONNECTIONS_PER_USER again', async () => {
      await live().restore();
      expect((await readyBecomes(200, 15_000)).status).toBe(200);
      const slots = await registerUser(app.url, 'redis-outage-slots');
      const bearer = { authorization: `Bearer ${slots.accessToken}` };
      const held: TestSocket[] = [];
      for (let i = 0; i < MAX_CONNECTIONS; i++) held.push(await TestSocket.open(wsUrl(app.url), { headers: bearer }));
      sockets.push(...held);
      expect((await attemptUpgrade(wsUrl(app.url), bearer)).status).toBe(429);

      await live().cut();
      try {
        await delay(4_000); // > INSTANCE_LEASE_MS (3 s): the slots' leases expire in Redis meanwhile
      } finally {
        await live().restore();
      }
      expect((await readyBecomes(200, 15_000)).status).toBe(200);
      await delay(1_500); // at least one lease renewal round (every INSTANCE_LEASE_MS / 3) with Redis back
      expect(held.every((ws) => ws.closed === undefined)).toBe(true);
      // Still MAX_CONNECTIONS open sockets: one more must be refused.
      const extra = await attemptUpgrade(wsUrl(app.url), bearer);
      expect(extra).toEqual({ status: 429, code: 'too_many_connections' });
    }, 40_000);
  },
);
