import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyRunEvents } from '../../src/protocol/index.js';
import { createTestApp, request, SkewedClock, type TestApp } from '../../src/testing/index.js';
import { commonScripts, ScriptedAgent } from '../e2e/helpers/runs.js';
import { clientOf, collect, PASSWORD, recordStates, uniqueEmail } from './helpers.js';

/**
 * Access tokens live 30 s (the minimum). The server's clock runs `clock.skewMs` ms ahead of the real one, so a token issued
 * at skew 0 and used after the skew moves is close to its expiry on the server while the client, which counts
 * from `expiresIn`, still thinks it fresh: the SDK must go by what the server says (token_expiring, 4001, 401).
 */
const clock = new SkewedClock();
let app: TestApp;
beforeAll(async () => {
  app = await createTestApp(
    { ACCESS_TOKEN_TTL_SECONDS: '30' },
    { agent: new ScriptedAgent(commonScripts), now: clock.now },
  );
});
afterAll(async () => {
  await app?.close();
});
beforeEach(() => {
  clock.skewMs = 0;
});

/** fetch that counts POST /auth/refresh calls and can hold them back. */
function countingFetch(holdRefreshMs = 0): { fetch: typeof fetch; refreshes: () => number } {
  let refreshes = 0;
  return {
    refreshes: () => refreshes,
    fetch: async (input, init) => {
      if (typeof input === 'string' && input.endsWith('/auth/refresh')) {
        refreshes += 1;
        await delay(holdRefreshMs);
      }
      return fetch(input, init);
    },
  };
}

async function signedUp(prefix: string): Promise<string> {
  const email = uniqueEmail(prefix);
  const res = await request(app.url, 'POST', '/auth/register', { body: { email, password: PASSWORD } });
  expect(res.status).toBe(201);
  return email;
}

describe('SDK: tokens on a long connection', () => {
  it('token_expiring is answered with authenticate: a ticket socket outlives its first token with no reconnect', async () => {
    const counted = countingFetch();
    const client = clientOf(app, { auth: 'ticket', fetch: counted.fetch });
    await client.login(await signedUp('sdk-renew'), PASSWORD);
    clock.skewMs = 27_000; // the token has 3 s left on the server
    await client.connect();
    const states = recordStates(client);
    const [conn] = app.gateway.registry.all();
    const firstExpiry = conn?.principal.expiresAt ?? 0;

    // The run outlasts the first token: the socket would close 4001 at its expiry without a renewal.
    const events = await collect(client.run('script:sleep 4000'));
    expect(verifyRunEvents(events)).toEqual([]);
    expect(events.at(-1)?.type).toBe('agent_completed');
    expect(states).toEqual([]);
    expect(client.state).toBe('connected');
    expect(counted.refreshes()).toBe(1);
    expect(app.gateway.registry.all()).toEqual([conn]);
    expect(conn?.principal.expiresAt).toBeGreaterThan(firstExpiry);
    client.close();
  });

  it('close 4001 (the refresh came too late): one refresh, shared by the renewal and the reconnect, then connected again', async () => {
    // The refresh takes 3 s: late even when a loaded machine delays the server's once-a-second expiry sweep.
    const counted = countingFetch(3_000);
    const client = clientOf(app, { auth: 'ticket', fetch: counted.fetch });
    await client.login(await signedUp('sdk-4001'), PASSWORD);
    clock.skewMs = 29_000; // 1 s left on the server
    const states = recordStates(client);
    await client.connect();
    await expect
      .poll(() => states.map((s) => s.state).join(','), { timeout: 15_000 })
      .toMatch(/reconnecting.*,connected$/);
    const lost = states.find((s) => s.state === 'reconnecting');
    expect(lost?.detail).toMatchObject({ closeCode: 4001, error: { code: 'token_expired' } });
    expect(counted.refreshes()).toBe(1);
    const events = await collect(client.run('script:deltas 5 1'));
    expect(verifyRunEvents(events)).toEqual([]);
    client.close();
  });

  it('HTTP: a token the server already counts as expired is refreshed once for many concurrent calls, then retried', async () => {
    const counted = countingFetch(100);
    const client = clientOf(app, { fetch: counted.fetch });
    await client.login(await signedUp('sdk-http-refresh'), PASSWORD);
    clock.skewMs = 31_000;
    const lists = await Promise.all(Array.from({ length: 5 }, () => client.threads()));
    expect(lists).toEqual(Array.from({ length: 5 }, () => []));
    // Two refreshes with one token would be reuse, and would have revoked the login.
    expect(counted.refreshes()).toBe(1);
    expect(await client.threads()).toEqual([]);
  });

  it('logout elsewhere closes the socket 1008 session revoked: state closed, tokens cleared, runs fail, no reconnect', async () => {
    const email = await signedUp('sdk-revoked');
    let stored: string | null | undefined;
    const client = clientOf(app, { onRefreshToken: (t) => (stored = t) });
    await client.login(email, PASSWORD);
    const refreshToken = stored;
    await client.connect();
    const states = recordStates(client);
    const running = client.run('script:sleep 5000');
    await running.accepted;

    const elsewhere = await request<{ accessToken: string }>(app.url, 'POST', '/auth/login', {
      body: { email, password: PASSWORD },
    });
    const logout = await request(app.url, 'POST', '/auth/logout', {
      token: elsewhere.body.accessToken,
      body: { refreshToken },
    });
    expect(logout.status).toBe(204);

    await expect(running.done).rejects.toMatchObject({ code: 'session_revoked', closeCode: 1008 });
    expect(states).toEqual([
      { state: 'closed', detail: { closeCode: 1008, error: expect.objectContaining({ code: 'session_revoked' }) } },
    ]);
    expect(stored).toBeNull();
    expect(client.user).toBeNull();
    await delay(300);
    expect(client.state).toBe('closed');
    // The server drops the socket once the close handshake ends: soon, later on a loaded machine.
    await expect.poll(() => app.gateway.registry.all().length, { timeout: 5_000 }).toBe(0);
  });
});
