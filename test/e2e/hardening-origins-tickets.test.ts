import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app/logger.js';
import { createTestApp, registerUser, request, type TestApp } from '../../src/testing/index.js';
import { connect, send } from './helpers/runs.js';
import { abortOpenStreams, endOf, refused, sse } from './helpers/sse.js';
import { upgrade } from './helpers/wire.js';

/**
 * Hardening: ALLOWED_ORIGINS adds origins, it never locks out the page the server itself serves (the origin of
 * PUBLIC_URL), and a refused Origin is a warning that names it. Browsers' EventSource cannot send headers, so
 * GET /runs/:id/stream also takes `?ticket=`, spent by the attempt like a WebSocket ticket.
 */

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});
let app: TestApp;
beforeAll(async () => {
  app = await createTestApp(
    { ALLOWED_ORIGINS: 'https://app.example.com' },
    { logger: createLogger({ logLevel: 'info' }, sink) },
  );
});
afterAll(async () => {
  abortOpenStreams();
  await app?.close();
});

describe('hardening: origins', () => {
  it("with ALLOWED_ORIGINS set, the server's own page (PUBLIC_URL's origin) still opens WebSockets, and so do the listed ones", async () => {
    const user = await registerUser(app.url, 'origin-own');
    const headers = { authorization: `Bearer ${user.accessToken}` };
    const own = await upgrade(app, { ...headers, origin: new URL(app.url).origin });
    expect(own.status).toBe(101);
    own.socket?.destroy();
    const listed = await upgrade(app, { ...headers, origin: 'https://app.example.com' });
    expect(listed.status).toBe(101);
    listed.socket?.destroy();
  });

  it('another Origin gets 403 origin_not_allowed, logged at warn with the origin', async () => {
    const user = await registerUser(app.url, 'origin-evil');
    const refusal = await upgrade(app, { authorization: `Bearer ${user.accessToken}`, origin: 'https://evil.example' });
    expect([refusal.status, refusal.code]).toEqual([403, 'origin_not_allowed']);
    const warning = lines
      .map((l) => JSON.parse(l) as { level: number; origin?: string })
      .find((l) => l.origin === 'https://evil.example');
    expect(warning?.level).toBe(40);
  });
});

describe('hardening: GET /runs/:id/stream?ticket=', () => {
  async function ticketOf(token: string): Promise<string> {
    const res = await request<{ ticket: string }>(app.url, 'POST', '/ws/ticket', { token, body: {} });
    expect(res.status).toBe(201);
    return res.body.ticket;
  }

  it('a ticket opens the stream without any header; it is spent: the same ticket again is 401 invalid_ticket', async () => {
    const user = await registerUser(app.url, 'sse-ticket');
    const ws = await connect(app, user);
    const ack = await send(ws, { id: 'calc', text: 'calculate 6*7' });
    await ws.runEvents(ack.runId);
    ws.close();
    const ticket = await ticketOf(user.accessToken);
    const url = `${app.url}/runs/${ack.runId}/stream?ticket=${encodeURIComponent(ticket)}`;
    const stream = await sse(url);
    expect(await endOf(stream, 5_000)).toBe('end');
    expect(stream.events.length).toBeGreaterThanOrEqual(5);
    const again = await refused(url);
    expect([again.status, JSON.parse(again.text)]).toMatchObject([401, { error: { code: 'invalid_ticket' } }]);
  });

  it("a ticket is spent by any attempt: one used on another user's run (404) is gone; two tickets, or a made-up one, are 401", async () => {
    const owner = await registerUser(app.url, 'sse-ticket-owner');
    const ws = await connect(app, owner);
    const ack = await send(ws, { id: 'calc', text: 'calculate 1+1' });
    ws.close();
    const stranger = await registerUser(app.url, 'sse-ticket-stranger');
    const ticket = await ticketOf(stranger.accessToken);
    const url = (t: string) => `${app.url}/runs/${ack.runId}/stream?ticket=${encodeURIComponent(t)}`;
    expect((await refused(url(ticket))).status).toBe(404);
    expect((await refused(url(ticket))).status).toBe(401);
    const [a, b] = [await ticketOf(stranger.accessToken), await ticketOf(stranger.accessToken)];
    const both = await refused(`${url(a)}&ticket=${encodeURIComponent(b)}`);
    expect([both.status, JSON.parse(both.text)]).toMatchObject([401, { error: { code: 'invalid_ticket' } }]);
    // Both were spent by that attempt.
    expect((await refused(url(b))).status).toBe(401);
    expect((await refused(url('tk_made_up'))).status).toBe(401);
  });
});
