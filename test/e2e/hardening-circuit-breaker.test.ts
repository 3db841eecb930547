import type { Duplex } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { registerUser, request } from '../../src/testing/index.js';
import { commitFromAnotherConnection } from '../../src/testing/foreign-commit.js';
import { eventually, useTestApp } from './helpers/runs.js';
import { upgrade as upgradeWith, type Upgrade } from './helpers/wire.js';

/**
 * Hardening: the auth store behind a circuit breaker (5 consecutive failures open it for 5 s). A store outage is
 * 503 `service_unavailable` (upgrade 503, in-band error + close 1011), never a credential error; a bad credential
 * is still 401; readiness names the failing component; open sockets stay up; it heals by itself.
 */

/** While true, the token store's session check and rotation throw like a database that is down. */
let faulty = false;
let storeCalls = 0;

const server = useTestApp(
  {},
  {
    wrapAuthStores: ({ users, tokens }) => ({
      users,
      tokens: new Proxy(tokens, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if ((prop === 'isSessionActive' || prop === 'rotate') && typeof value === 'function') {
            return async (...args: unknown[]) => {
              storeCalls += 1;
              if (faulty) throw new Error('connection refused (injected)');
              return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            };
          }
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      }),
    }),
  },
);
const { open } = server;
const raw: Duplex[] = [];
afterEach(() => {
  faulty = false;
});
afterAll(() => {
  for (const r of raw) r.destroy();
});

/** One raw upgrade attempt with an Authorization header: its status and error code (101 sockets are kept). */
async function upgrade(token: string): Promise<Upgrade> {
  const attempt = await upgradeWith(server.app, { authorization: `Bearer ${token}` });
  if (attempt.socket !== undefined) raw.push(attempt.socket);
  return attempt;
}

const me = (token: string) => request<{ error?: { code: string } }>(server.app.url, 'GET', '/auth/me', { token });
const errorCode = (body: unknown): string | undefined =>
  (body as { error?: { code?: string } } | undefined)?.error?.code;

describe('hardening: auth store outage and circuit breaker', () => {
  it('503 not 401 while the store is down, readiness names auth, open sockets live on, garbage is still 401, and it heals', async () => {
    const user = await registerUser(server.app.url, 'breaker');
    const bystander = await open(user);
    const victim = await open(user);
    expect((await me(user.accessToken)).status).toBe(200);
    expect((await request(server.app.url, 'GET', '/health/ready')).status).toBe(200);

    // The server remembers the session as active (docs/SECURITY.md): a commit by another process makes it read the
    // store again, so the outage is met.
    commitFromAnotherConnection(server.app.dataDir);
    faulty = true;
    // A valid Bearer at the upgrade: the store cannot confirm the session, so 503, never 401.
    const up = await upgrade(user.accessToken);
    expect(up.status).toBe(503);
    expect(up.code).toBe('service_unavailable');
    // /auth/me likewise; five consecutive failures in all open the circuit.
    for (let i = 0; i < 4; i++) {
      const res = await me(user.accessToken);
      expect(res.status).toBe(503);
      expect(errorCode(res.body)).toBe('service_unavailable');
    }
    const refresh = await request(server.app.url, 'POST', '/auth/refresh', {
      body: { refreshToken: user.refreshToken },
    });
    expect(refresh.status).toBe(503);
    expect(errorCode(refresh.body)).toBe('service_unavailable');

    const ready = await request<{ status: string; failing?: string[]; components?: Record<string, string> }>(
      server.app.url,
      'GET',
      '/health/ready',
    );
    expect(ready.status).toBe(503);
    expect(ready.body.failing).toContain('auth');
    expect(ready.body.failing).not.toContain('database');

    // The circuit is open: calls fail fast without touching the store.
    const before = storeCalls;
    expect((await me(user.accessToken)).status).toBe(503);
    expect((await upgrade(user.accessToken)).status).toBe(503);
    expect(storeCalls).toBe(before);

    // Credential failures are never 503: the signature check comes before the store.
    const garbage = await upgrade('not.a.jwt');
    expect(garbage.status).toBe(401);
    const forged = await me(`${user.accessToken.slice(0, -4)}AAAA`);
    expect(forged.status).toBe(401);
    expect((await request(server.app.url, 'GET', '/auth/me', { token: 'garbage' })).status).toBe(401);

    // An already-open socket does not need the store to keep working.
    bystander.send({ type: 'ping', id: 'during-outage' });
    expect(await bystander.waitFor((m) => m.type === 'pong', 3_000)).toMatchObject({ replyTo: 'during-outage' });

    // In-band re-authentication cannot be confirmed: error service_unavailable, then close 1011 (retry later).
    victim.send({ type: 'authenticate', id: 'reauth', token: user.accessToken });
    expect(await victim.waitFor((m) => m.type === 'error', 3_000)).toMatchObject({
      code: 'service_unavailable',
      replyTo: 'reauth',
    });
    expect((await victim.waitClose(3_000)).code).toBe(1011);
    expect(bystander.closed).toBeUndefined();

    // The store recovers; the circuit stays open until its half-open trial (about 5 s), then closes again.
    faulty = false;
    expect((await me(user.accessToken)).status).toBe(503);
    await eventually(async () => (await me(user.accessToken)).status === 200, 9_000, '/auth/me to recover');
    expect((await request(server.app.url, 'GET', '/health/ready')).status).toBe(200);
    expect((await upgrade(user.accessToken)).status).toBe(101);
    const again = await open(user);
    again.send({ type: 'authenticate', id: 'reauth-ok', token: user.accessToken });
    expect(await again.waitFor((m) => m.type === 'authenticated' || m.type === 'error', 3_000)).toMatchObject({
      type: 'authenticated',
      replyTo: 'reauth-ok',
    });
    bystander.send({ type: 'ping', id: 'after' });
    expect(await bystander.waitFor((m) => m.type === 'pong', 3_000)).toMatchObject({ replyTo: 'after' });
  }, 30_000);

  it('wrong passwords and unknown emails are answers, not faults: they never open the circuit', async () => {
    const user = await registerUser(server.app.url, 'breaker-creds');
    for (let i = 0; i < 6; i++) {
      const res = await request(server.app.url, 'POST', '/auth/login', {
        body: { email: user.email, password: `wrong password ${i}` },
      });
      expect(res.status).toBe(401);
      expect(errorCode(res.body)).toBe('invalid_credentials');
    }
    for (let i = 0; i < 3; i++) {
      const res = await request(server.app.url, 'POST', '/auth/login', {
        body: { email: `nobody-${i}-${Date.now()}@example.com`, password: 'whatever password' },
      });
      expect(res.status).toBe(401);
    }
    for (let i = 0; i < 6; i++) expect((await upgrade('still.not.ajwt')).status).toBe(401);
    expect((await request(server.app.url, 'GET', '/health/ready')).status).toBe(200);
    expect((await me(user.accessToken)).status).toBe(200);
  });
});
