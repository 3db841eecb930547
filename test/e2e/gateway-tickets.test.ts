import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';
import { refusedStatus } from './helpers/wire.js';

/**
 * The upgrade's credential rules (CONTRACT "WebSocket: GET /ws", "Tokens") and what follows the upgrade. Ticket
 * replay, expiry, revocation and TTL bounds are in test/attacks/ticket-replay.test.ts.
 */

type User = Awaited<ReturnType<typeof registerUser>>;
type Ticket = { ticket: string; expiresIn: number; url: string };

let app: TestApp;
let user: User;
beforeAll(async () => {
  app = await createTestApp();
  user = await registerUser(app.url, 'tickets');
});
afterAll(async () => {
  await app?.close();
});

async function issue(token = user.accessToken, body: unknown = {}): Promise<Ticket> {
  const res = await request<Ticket>(app.url, 'POST', '/ws/ticket', { token, body });
  expect(res.status).toBe(201);
  return res.body;
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('POST /ws/ticket', () => {
  it('CONTRACT HTTP API: issuing a ticket needs a Bearer access token (401 otherwise)', async () => {
    expect((await request(app.url, 'POST', '/ws/ticket', { body: {} })).status).toBe(401);
    expect((await request(app.url, 'POST', '/ws/ticket', { token: user.refreshToken, body: {} })).status).toBe(401);
    const ticket = await issue();
    expect((await request(app.url, 'POST', '/ws/ticket', { token: ticket.ticket, body: {} })).status).toBe(401);
  });
});

describe('ticket upgrades', () => {
  it('CONTRACT WS: no credential at all is 401', async () => {
    expect(await refusedStatus(wsUrl(app.url))).toBe(401);
    expect(await refusedStatus(wsUrl(app.url), { headers: { authorization: 'Bearer ' } })).toBe(401);
    expect(await refusedStatus(wsUrl(app.url), { headers: { authorization: 'Basic dXNlcjpwYXNz' } })).toBe(401);
  });

  it('CWE-598: an access JWT in the URL (?token=, ?access_token=) is 401, even beside a valid header', async () => {
    for (const param of ['token', 'access_token']) {
      const url = `${wsUrl(app.url)}?${param}=${user.accessToken}`;
      expect(await refusedStatus(url), param).toBe(401);
      expect(await refusedStatus(url, bearer(user.accessToken)), `${param} + header`).toBe(401);
    }
  });

  it('CONTRACT WS: refresh tokens and tickets are never accepted as Bearer', async () => {
    expect(await refusedStatus(wsUrl(app.url), bearer(user.refreshToken))).toBe(401);
    const ticket = await issue();
    expect(await refusedStatus(wsUrl(app.url), bearer(ticket.ticket))).toBe(401);
    expect(await refusedStatus(wsUrl(app.url), { protocols: ['agentgate.v1', `bearer.${ticket.ticket}`] })).toBe(401);
  });

  it('CONTRACT WS: a forged or tampered access token is 401', async () => {
    const [h, p, s] = user.accessToken.split('.') as [string, string, string];
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(await refusedStatus(wsUrl(app.url), bearer(flipped))).toBe(401);
    const none = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${p}.`;
    expect(await refusedStatus(wsUrl(app.url), bearer(none))).toBe(401);
  });
});

describe('header and subprotocol auth', () => {
  it('CONTRACT WS 2: Authorization: Bearer <access token> connects', async () => {
    const ws = await TestSocket.open(wsUrl(app.url), bearer(user.accessToken));
    expect(ws.messages[0]).toMatchObject({ type: 'connection_established', userId: user.user.id });
    ws.close();
  });

  it('CONTRACT WS 3: a bad bearer.<token> subprotocol is 401', async () => {
    expect(await refusedStatus(wsUrl(app.url), { protocols: ['agentgate.v1', 'bearer.not-a-token'] })).toBe(401);
  });
});

describe('after the upgrade', () => {
  it('CONTRACT WS: connection_established is the first message, with connectionId, userId, serverTime, heartbeatIntervalMs, activeRuns', async () => {
    const config = await request<{ heartbeatIntervalMs: number }>(app.url, 'GET', '/ws/config');
    const a = await TestSocket.open(wsUrl(app.url), bearer(user.accessToken));
    const b = await TestSocket.open((await issue()).url);
    for (const ws of [a, b]) {
      const hello = ws.messages[0] as unknown as Record<string, unknown>;
      expect(hello).toEqual(
        expect.objectContaining({
          type: 'connection_established',
          connectionId: expect.any(String),
          userId: user.user.id,
          serverTime: expect.any(String),
          heartbeatIntervalMs: config.body.heartbeatIntervalMs,
          activeRuns: [],
        }),
      );
      expect(Math.abs(Date.parse(hello.serverTime as string) - Date.now())).toBeLessThan(10_000);
    }
    expect((a.messages[0] as { connectionId: string }).connectionId).not.toBe(
      (b.messages[0] as { connectionId: string }).connectionId,
    );
    a.close();
    b.close();
  });

  it("CONTRACT WS: activeRuns lists the user's run in progress so a new tab can resume it", async () => {
    const runner = await registerUser(app.url, 'active');
    const first = await TestSocket.open(wsUrl(app.url), bearer(runner.accessToken));
    first.send({ type: 'user_message', id: 'w', text: 'please wait 3 seconds' });
    const ack = (await first.next((m) => m.type === 'message_accepted')) as { runId: string; threadId: string };
    await first.next((m) => m.type === 'agent_started' && m.runId === ack.runId);
    const second = await TestSocket.open(wsUrl(app.url), bearer(runner.accessToken));
    const hello = second.messages[0] as {
      type: string;
      activeRuns: Array<{ runId: string; threadId: string; lastSeq: number }>;
    };
    expect(hello.type).toBe('connection_established');
    expect(hello.activeRuns).toEqual([
      expect.objectContaining({ runId: ack.runId, threadId: ack.threadId, lastSeq: expect.any(Number) }),
    ]);
    expect(hello.activeRuns[0]?.lastSeq).toBeGreaterThanOrEqual(1);
    await request(app.url, 'POST', `/runs/${ack.runId}/cancel`, { token: runner.accessToken });
    await first.runEvents(ack.runId, 10_000);
    first.close();
    second.close();
  });

  it('CONTRACT HTTP API: GET /ws/health connections counts open sockets, up and down', async () => {
    const count = async () => (await request<{ connections: number }>(app.url, 'GET', '/ws/health')).body.connections;
    const until = async (want: number) => {
      for (let i = 0; i < 50 && (await count()) !== want; i++) await delay(50);
      return count();
    };
    const base = await until(0);
    const a = await TestSocket.open(wsUrl(app.url), bearer(user.accessToken));
    const b = await TestSocket.open(wsUrl(app.url), { protocols: ['agentgate.v1', `bearer.${user.accessToken}`] });
    expect(await until(base + 2)).toBe(base + 2);
    a.close();
    await a.waitClose(5_000);
    expect(await until(base + 1)).toBe(base + 1);
    b.ws.terminate();
    expect(await until(base)).toBe(base);
  });
});
