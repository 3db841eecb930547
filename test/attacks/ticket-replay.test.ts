import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app/logger.js';
import { commitFromAnotherConnection } from '../../src/testing/foreign-commit.js';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';
import { useTestApp } from '../e2e/helpers/runs.js';
import { sessionStoreFault } from './helpers/wire-faults.js';
import { RawClient, upgradeHead } from './helpers/wire-raw.js';
import { refusedStatus } from '../e2e/helpers/wire.js';

/**
 * Ticket replay (CONTRACT "Tokens" and "WebSocket: GET /ws" 1; CWE-294 authentication bypass by capture-replay):
 * a WebSocket ticket is opaque, ≥ 128 bits, single-use, bound to one user, default TTL 60 s (1..3600), spent by any
 * upgrade attempt, and never logged. Settings: TICKET_TTL_SECONDS, TICKETS_PER_MINUTE.
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

async function issueOn(target: TestApp, token: string, body: unknown = {}): Promise<Ticket> {
  const res = await request<Ticket>(target.url, 'POST', '/ws/ticket', { token, body });
  expect(res.status).toBe(201);
  return res.body;
}

const issue = (token = user.accessToken, body: unknown = {}): Promise<Ticket> => issueOn(app, token, body);

/** A raw upgrade of `/ws?<query>` with no other credential: its status and error code (a 101 is closed at once). */
async function rawUpgrade(
  target: TestApp,
  query: string,
  overrides: Record<string, string | undefined> = {},
): Promise<{ status: number; code: string | undefined }> {
  const raw = await RawClient.request(
    target.port,
    upgradeHead(target.port, undefined, overrides, `GET /ws?${query} HTTP/1.1`),
  );
  try {
    const res = await raw.response();
    if (res.status === 101) return { status: 101, code: undefined };
    const text = (await raw.body(res.headers['content-length'])).toString('utf8');
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      code = undefined;
    }
    return { status: res.status, code };
  } finally {
    raw.destroy();
  }
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('ticket replay: issuing (POST /ws/ticket)', () => {
  it('[CONTRACT HTTP API] 201 {ticket, expiresIn, url} with the default TTL of 60 s, not cacheable', async () => {
    const res = await request<Ticket>(app.url, 'POST', '/ws/ticket', { token: user.accessToken, body: {} });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ ticket: expect.any(String), expiresIn: 60, url: expect.any(String) });
    expect(res.headers.get('cache-control')).toContain('no-store');
    const url = new URL(res.body.url);
    expect(`${url.protocol}//${url.host}${url.pathname}`).toBe(wsUrl(app.url));
    expect(url.searchParams.get('ticket')).toBe(res.body.ticket);
    const custom = await issue(user.accessToken, { ttlSeconds: 3600 });
    expect(custom.expiresIn).toBe(3600);
  });

  it('[CONTRACT HTTP API] ttlSeconds below 1 or above 3600 is 400 invalid_request', async () => {
    for (const ttlSeconds of [0, -1, 3601, 1.5]) {
      const res = await request<{ error: { code: string } }>(app.url, 'POST', '/ws/ticket', {
        token: user.accessToken,
        body: { ttlSeconds },
      });
      expect(res.status, `ttlSeconds ${ttlSeconds}`).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });

  it('[CONTRACT HTTP API] ttlSeconds must be an integer number: "60", "1e3", null, true, 1e9 and 2^53 are 400 invalid_request; 1 is the shortest accepted', async () => {
    for (const ttlSeconds of ['60', '1e3', null, true, 1e9, 2 ** 53, [60], { $gt: 0 }]) {
      const res = await request<{ error: { code: string } }>(app.url, 'POST', '/ws/ticket', {
        token: user.accessToken,
        body: { ttlSeconds },
      });
      expect(res.status, `ttlSeconds ${JSON.stringify(ttlSeconds)}`).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect((await issue(user.accessToken, { ttlSeconds: 1 })).expiresIn).toBe(1);
  });

  it('[CWE-330 / OWASP Session Management Cheat Sheet] a ticket carries at least 128 bits and never repeats', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const { ticket } = await issue();
      expect(ticket).toMatch(/^[A-Za-z0-9_-]+$/);
      const body = ticket.replace(/^[a-z]{1,4}_/, '');
      expect(Buffer.from(body, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
      seen.add(ticket);
    }
    expect(seen.size).toBe(20);
  });
});

describe('ticket replay: single use', () => {
  it('[CWE-294 / CONTRACT WS 1] a ticket opens one socket for its user, then is spent (second use 401)', async () => {
    const ticket = await issue();
    const ws = await TestSocket.open(ticket.url);
    expect(ws.messages[0]).toMatchObject({ type: 'connection_established', userId: user.user.id });
    ws.close();
    expect(await refusedStatus(ticket.url)).toBe(401);
  });

  it('[CWE-362] 20 upgrades racing with one ticket open exactly one socket; the rest get 401', async () => {
    const ticket = await issue();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => TestSocket.open(ticket.url)));
    const opened = results.filter((r): r is PromiseFulfilledResult<TestSocket> => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const r of opened) r.value.close();
    expect(opened).toHaveLength(1);
    expect(refused.map((r) => (r.reason as { status?: number }).status)).toEqual(Array(19).fill(401));
  });

  it('[CONTRACT WS fail closed] a ticket is spent by an attempt refused with 403 (bad Origin); the retry gets 401', async () => {
    const ticket = await issue();
    expect(await refusedStatus(ticket.url, { origin: 'https://evil.example.com' })).toBe(403);
    expect(await refusedStatus(ticket.url)).toBe(401);
    expect(await refusedStatus(ticket.url, { origin: app.url })).toBe(401);
  });

  it('[CONTRACT WS 1 / RFC 6455 §4.2.1] a ticket is spent by an attempt refused 400 (malformed handshake or subprotocol) or 426 (wrong version): the retry gets 401 invalid_ticket', async () => {
    const refusals: Array<[Record<string, string | undefined>, number]> = [
      [{ 'Sec-WebSocket-Key': undefined }, 400],
      [{ Upgrade: 'websocketx' }, 400],
      [{ 'Sec-WebSocket-Version': '8' }, 426],
      [{ 'Sec-WebSocket-Protocol': 'agentgate.v1, not a token' }, 400],
    ];
    for (const [bad, status] of refusals) {
      const { ticket } = await issue();
      expect((await rawUpgrade(app, `ticket=${ticket}`, bad)).status, JSON.stringify(bad)).toBe(status);
      expect(await rawUpgrade(app, `ticket=${ticket}`), `retry after ${JSON.stringify(bad)}`).toEqual({
        status: 401,
        code: 'invalid_ticket',
      });
    }
  });

  it('[CONTRACT WS 1] tickets sent twice in one URL (?ticket=T&ticket=T, ?ticket=A&ticket=B) are refused 401 and spent', async () => {
    const t = await issue();
    expect(await refusedStatus(`${t.url}&ticket=${t.ticket}`)).toBe(401);
    const [a, b] = [await issue(), await issue()];
    expect(await refusedStatus(`${a.url}&ticket=${b.ticket}`)).toBe(401);
    // Each of these attempts showed the ticket: a replay must find it spent.
    for (const replay of [t, a, b]) expect(await refusedStatus(replay.url)).toBe(401);
  });
});

describe('ticket replay: expiry, revocation and binding', () => {
  it('[CONTRACT Tokens / CWE-613] an expired ticket is refused with 401', async () => {
    const ticket = await issue(user.accessToken, { ttlSeconds: 1 });
    await delay(1_200);
    expect(await refusedStatus(ticket.url)).toBe(401);
  });

  it('[CONTRACT Tokens / CWE-613] a ticket issued before logout is refused 401 (its login family is revoked)', async () => {
    const other = await registerUser(app.url, 'logout');
    const ticket = await issue(other.accessToken);
    const out = await request(app.url, 'POST', '/auth/logout', {
      token: other.accessToken,
      body: { refreshToken: other.refreshToken },
    });
    expect(out.status).toBe(204);
    expect(await refusedStatus(ticket.url)).toBe(401);
  });

  // A ticket socket that tries `authenticate` with another user's token closes 1008 "token user mismatch":
  // test/attacks/identity-switch.test.ts. A ticket minted before a refresh-token reuse: test/attacks/revocation.test.ts.
  it("[CONTRACT Tokens: bound to one user] a ticket opens a socket only as its issuer: identity fields in the issuing body and another user's Bearer beside the ticket change nothing", async () => {
    const alice = await registerUser(app.url, 'bound-alice');
    const mallory = await registerUser(app.url, 'bound-mallory');
    const ticket = await issue(mallory.accessToken, {
      userId: alice.user.id,
      sub: alice.user.id,
      email: alice.email,
      user: { id: alice.user.id },
      sid: 'x',
    });
    const ws = await TestSocket.open(ticket.url, bearer(alice.accessToken));
    expect(ws.messages[0]).toMatchObject({ type: 'connection_established', userId: mallory.user.id });
    ws.close();
    const other = await issue(alice.accessToken);
    const viaSubprotocol = await TestSocket.open(other.url, {
      protocols: ['agentgate.v1', `bearer.${mallory.accessToken}`],
    });
    expect(viaSubprotocol.messages[0]).toMatchObject({ type: 'connection_established', userId: alice.user.id });
    viaSubprotocol.close();
  });

  it('[CONTRACT WS fail closed] a present but invalid ?ticket is 401 even with a valid Authorization header', async () => {
    const forged = `${wsUrl(app.url)}?ticket=tk_${'A'.repeat(43)}`;
    expect(await refusedStatus(forged, bearer(user.accessToken))).toBe(401);
    expect(await refusedStatus(`${wsUrl(app.url)}?ticket=`, bearer(user.accessToken))).toBe(401);
    const ticket = await issue();
    const spentOnce = await TestSocket.open(ticket.url);
    spentOnce.close();
    expect(await refusedStatus(ticket.url, bearer(user.accessToken))).toBe(401);
  });

  it('[CONTRACT WS fail closed] a present but invalid ?ticket is 401 even beside a valid bearer.<jwt> subprotocol, whatever its form', async () => {
    const protocols = ['agentgate.v1', `bearer.${user.accessToken}`];
    for (const query of [
      'ticket',
      `ticket=tk_${'A'.repeat(43)}`,
      'ticket=%00',
      `ticket=${'x'.repeat(4_000)}`,
      `ticket=${encodeURIComponent(user.accessToken)}`,
    ]) {
      expect(await refusedStatus(`${wsUrl(app.url)}?${query}`, { protocols }), query.slice(0, 40)).toBe(401);
    }
  });
});

describe('ticket replay: across an auth store outage', () => {
  const fault = sessionStoreFault();
  const server = useTestApp({}, { wrapAuthStores: fault.wrap });
  afterEach(() => fault.down(false));

  it('[CONTRACT WS fail closed / CWE-294] a ticket presented while the session store is down is spent: its session, checked a moment ago, is answered from memory (docs/SECURITY.md), and the ticket is dead once the store is back', async () => {
    const victim = await registerUser(server.app.url, 'outage');
    const ticket = await issueOn(server.app, victim.accessToken);
    fault.down(true);
    expect(await rawUpgrade(server.app, `ticket=${ticket.ticket}`)).toEqual({ status: 101, code: undefined });
    expect(await rawUpgrade(server.app, `ticket=${ticket.ticket}`)).toEqual({ status: 401, code: 'invalid_ticket' });
    fault.down(false);
    expect(await rawUpgrade(server.app, `ticket=${ticket.ticket}`)).toEqual({ status: 401, code: 'invalid_ticket' });
    const fresh = await issueOn(server.app, victim.accessToken);
    expect((await rawUpgrade(server.app, `ticket=${fresh.ticket}`)).status, 'control: a fresh ticket opens').toBe(101);
  });

  it('[CONTRACT WS fail closed] a ticket whose session is not known from the last minute is 503 while the store is down, never a pass, and dead once it is back', async () => {
    const victim = await registerUser(server.app.url, 'outage-unseen');
    const ticket = await issueOn(server.app, victim.accessToken);
    // Another process (the CLI) commits to the database: what this one remembers of sessions is read again.
    commitFromAnotherConnection(server.app.dataDir);
    fault.down(true);
    expect(await rawUpgrade(server.app, `ticket=${ticket.ticket}`)).toEqual({
      status: 503,
      code: 'service_unavailable',
    });
    fault.down(false);
    expect(await rawUpgrade(server.app, `ticket=${ticket.ticket}`)).toEqual({ status: 401, code: 'invalid_ticket' });
  });
});

describe('ticket replay: tickets never reach the logs', () => {
  const lines: string[] = [];
  let logged: TestApp;
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(
          ...chunk
            .toString('utf8')
            .split('\n')
            .filter((l) => l.length > 0),
        );
        done();
      },
    });
    logged = await createTestApp(
      { ALLOWED_ORIGINS: 'https://app.example.com' },
      { logger: createLogger({ logLevel: 'trace' }, sink) },
    );
  });
  afterAll(async () => {
    await logged?.close();
  });

  /** Issues a ticket for the log tests and remembers it as a secret. */
  const tickets: string[] = [];
  let owner: User;
  const next = async (): Promise<string> => {
    owner ??= await registerUser(logged.url, 'ticket-logs');
    const t = await issueOn(logged, owner.accessToken);
    tickets.push(t.ticket);
    return t.ticket;
  };
  const leaksOf = (ticket: string) => lines.filter((l) => l.includes(ticket) || l.includes(ticket.slice(-24)));

  it('[CWE-532 / CONTRACT Tokens] whichever way its upgrade ends (101, replay 401, 403, 400, 426, duplicate, plain GET, other path), a ticket is never logged', async () => {
    const opened = await next();
    expect((await rawUpgrade(logged, `ticket=${opened}`)).status).toBe(101);
    expect((await rawUpgrade(logged, `ticket=${opened}`)).status).toBe(401);
    expect((await rawUpgrade(logged, `ticket=${await next()}`, { Origin: 'https://evil.example.com' })).status).toBe(
      403,
    );
    expect((await rawUpgrade(logged, `ticket=${await next()}`, { 'Sec-WebSocket-Key': undefined })).status).toBe(400);
    expect((await rawUpgrade(logged, `ticket=${await next()}`, { 'Sec-WebSocket-Version': '8' })).status).toBe(426);
    expect((await rawUpgrade(logged, `a=1&ticket=${await next()}&ticket=${await next()}`)).status).toBe(401);
    for (const query of [`ticket=${await next()}`, `TICKET=${await next()}`, `x=1&ticket=${await next()}#f`]) {
      expect((await request(logged.url, 'GET', `/ws?${query}`)).status).toBe(400);
      expect((await request(logged.url, 'GET', `/nope?${query}`)).status).toBe(404);
    }

    expect(lines.length, 'the logger captured something').toBeGreaterThan(0);
    for (const ticket of tickets)
      expect(leaksOf(ticket), `a ticket starting ${ticket.slice(0, 6)}… was logged`).toEqual([]);
    for (const line of lines.filter((l) => /[?&]ticket=/i.test(l))) expect(line).toMatch(/ticket=\[redacted\]/i);
  });

  // The gateway reads `url.searchParams`, which decodes names, so the log redaction compares decoded names too.
  it('[CWE-532 / CONTRACT Tokens] a ticket under a percent-encoded parameter name (?%74icket=) is honoured on the upgrade and never logged', async () => {
    expect((await rawUpgrade(logged, `%74icket=${await next()}`)).status, 'the gateway reads it as a ticket').toBe(101);
    const shown = await next();
    expect((await request(logged.url, 'GET', `/ws?%74icket=${shown}`)).status).toBe(400);
    expect((await request(logged.url, 'GET', `/nope?tick%65t=${shown}`)).status).toBe(404);
    expect(leaksOf(shown), 'the ticket value in a log line').toEqual([]);
  });
});
