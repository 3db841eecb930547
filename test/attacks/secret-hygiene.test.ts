import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app/logger.js';
import type { AuthResponse, TicketResponse } from '../../src/protocol/index.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';
import { createTestDatabase, TEST_REDIS_URL, testRedisPrefix } from '../../src/testing/services.js';
import { send, terminalOf, type User } from '../e2e/helpers/runs.js';
import { startTcpProxy, type TcpProxy } from '../e2e/helpers/tcp-proxy.js';
import { upgrade } from '../e2e/helpers/wire.js';
import { freshEmail as email, PASSWORD, rawRequest, type RawResponse } from './helpers/identity.js';

/**
 * Secrets stay where they belong. CONTRACT "Tokens": logs never contain passwords, tokens, tickets
 * (`ticket=[redacted]`) or Authorization / Sec-WebSocket-Protocol values (OWASP Logging Cheat Sheet "Data to
 * exclude"; CWE-532), and responses that carry a token send `Cache-Control: no-store` (RFC 6749 §5.1; OWASP Session
 * Management Cheat Sheet "Web Content Caching"). CONTRACT "Accounts": unauthenticated `/metrics` and `/health/*`
 * carry no user identifiers, emails or connection strings. docs/SECURITY.md "HTTP hygiene": errors never carry a
 * stack or detail (CWE-209).
 */

const settle = <T>(p: Promise<T>) =>
  p.then(
    (v) => (v instanceof TestSocket ? v.close() : undefined),
    () => undefined,
  );
const PUBLIC_PATHS = ['/metrics', '/health/live', '/health/ready', '/ws/health', '/ws/config'];

/** Where in `text` any of `secrets` (or its last 24 characters) shows; [] when none does. */
function leaksIn(text: string, secrets: readonly string[]): string[] {
  return secrets
    .filter((s) => s.length > 0 && (text.includes(s) || (s.length > 24 && text.includes(s.slice(-24)))))
    .map((s) => `${s.slice(0, 10)}…`);
}

describe('secret hygiene: logs (the production logger at trace level, into memory)', () => {
  const lines: string[] = [];
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
  const secrets: string[] = [];
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(
      { ALLOWED_ORIGINS: 'https://app.example.com' },
      { logger: createLogger({ logLevel: 'trace' }, sink) },
    );
  });
  afterAll(async () => {
    await app?.close();
  });

  it('[CONTRACT Tokens "Logs never contain…", OWASP Logging Cheat Sheet "Data to exclude", CWE-532] tickets, access and refresh tokens, passwords and subprotocol values never reach a log line', async () => {
    const user = await registerUser(app.url, 'logs');
    const login = await request<{ accessToken: string; refreshToken: string }>(app.url, 'POST', '/auth/login', {
      body: { email: user.email, password: user.password },
    });
    secrets.push(user.password, user.accessToken, user.refreshToken, login.body.accessToken, login.body.refreshToken);
    const ticket = async () => {
      const res = await request<{ ticket: string; url: string }>(app.url, 'POST', '/ws/ticket', {
        token: user.accessToken,
        body: {},
      });
      secrets.push(res.body.ticket);
      return res.body;
    };

    // A ticket that opens a socket, one refused for its Origin, one replayed, one on a plain GET.
    const good = await ticket();
    await settle(TestSocket.open(good.url, { origin: 'https://app.example.com' }));
    await settle(TestSocket.open(good.url));
    const refused = await ticket();
    await settle(TestSocket.open(refused.url, { origin: 'https://evil.example.com' }));
    const plain = await ticket();
    await request(app.url, 'GET', `/ws?ticket=${plain.ticket}`);
    // Access tokens where they are refused (URL) and accepted (header, subprotocol), and a mismatching authenticate.
    await settle(TestSocket.open(`${wsUrl(app.url)}?token=${user.accessToken}&access_token=${login.body.accessToken}`));
    await settle(TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${user.accessToken}` } }));
    await settle(TestSocket.open(wsUrl(app.url), { protocols: ['agentgate.v1', `bearer.${login.body.accessToken}`] }));
    await request(app.url, 'GET', '/auth/me', { token: `${user.accessToken}x` });
    const other = await registerUser(app.url, 'logs-other');
    secrets.push(other.accessToken, other.refreshToken);
    const ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${user.accessToken}` } });
    ws.send({ type: 'authenticate', token: other.accessToken });
    await ws.waitClose(5_000);
    await request(app.url, 'POST', '/auth/refresh', { body: { refreshToken: login.body.refreshToken } });

    expect(lines.length, 'the logger captured something').toBeGreaterThan(0);
    for (const secret of secrets) {
      const leaks = lines.filter((l) => l.includes(secret) || l.includes(secret.slice(-24)));
      expect(leaks, `a secret starting ${secret.slice(0, 6)}… was logged`).toEqual([]);
    }
    for (const line of lines.filter((l) => /ticket=/.test(l))) expect(line).toMatch(/ticket=\[redacted\]/);
    expect(lines.filter((l) => /bearer\.[A-Za-z0-9_-]{8}/i.test(l))).toEqual([]);
  });

  it('[CONTRACT Tokens "Logs never contain…", OWASP Logging Cheat Sheet "Data to exclude", CWE-532] nor do register and failed-login passwords, logout, refresh-token reuse, or forged credentials of refused upgrades; ticket URLs log as ticket=[redacted]', async () => {
    const userEmail = email('logs-more');
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const reg = await request<AuthResponse>(app.url, 'POST', '/auth/register', {
      body: { email: userEmail, password, displayName: 'Logged' },
    });
    expect(reg.status).toBe(201);
    const wrongPassword = `wrong-${randomBytes(12).toString('hex')}`;
    expect(
      (await request(app.url, 'POST', '/auth/login', { body: { email: userEmail, password: wrongPassword } })).status,
    ).toBe(401);
    const session = await request<AuthResponse>(app.url, 'POST', '/auth/login', {
      body: { email: userEmail, password },
    });
    secrets.push(
      password,
      wrongPassword,
      reg.body.accessToken,
      reg.body.refreshToken,
      session.body.accessToken,
      session.body.refreshToken,
    );

    // Refresh, then replay the spent token (reuse revokes the family); log the other session out.
    const rotated = await request<AuthResponse>(app.url, 'POST', '/auth/refresh', {
      body: { refreshToken: reg.body.refreshToken },
    });
    secrets.push(rotated.body.accessToken, rotated.body.refreshToken);
    expect(
      (await request(app.url, 'POST', '/auth/refresh', { body: { refreshToken: reg.body.refreshToken } })).status,
    ).toBe(401);
    expect(
      (
        await request(app.url, 'POST', '/auth/logout', {
          token: session.body.accessToken,
          body: { refreshToken: session.body.refreshToken },
        })
      ).status,
    ).toBe(204);

    // Forged credentials in every place an upgrade reads one; each attempt is refused.
    const forged = Array.from({ length: 4 }, () => `forged${randomBytes(18).toString('base64url')}`);
    secrets.push(...forged);
    expect((await upgrade(app, { authorization: `Bearer ${forged[0]}` })).status).toBe(401);
    expect((await upgrade(app, { 'sec-websocket-protocol': `agentgate.v1, bearer.${forged[1]}` })).status).toBe(401);
    expect(
      await TestSocket.open(wsUrl(app.url, `?ticket=tk_${forged[2]}`)).then(
        () => 'open',
        (err: { status?: number }) => err.status,
      ),
    ).toBe(401);
    expect((await rawRequest(app.url, 'GET', `/ws?ticket=tk_${forged[3]}&x=1`)).status).toBe(400);

    for (const secret of secrets) {
      const leaks = lines.filter((l) => l.includes(secret) || l.includes(secret.slice(-24)));
      expect(leaks, `a secret starting ${secret.slice(0, 6)}… was logged`).toEqual([]);
    }
    const ticketLines = lines.filter((l) => /ticket=/.test(l));
    expect(ticketLines.length, 'a URL with a ticket was logged (redacted)').toBeGreaterThan(0);
    for (const line of ticketLines) expect(line).toMatch(/ticket=\[redacted\]/);
    expect(lines.filter((l) => /"(authorization|sec-websocket-protocol|cookie)":"(?!\[redacted\])/i.test(l))).toEqual(
      [],
    );
  });

  /** Plain HTTP requests (no upgrade) with a secret in the query string under `names`; the lines that show one. */
  async function queryStringLeaks(names: readonly string[]): Promise<string[]> {
    const user = await registerUser(app.url, 'query');
    const leaked: string[] = [];
    for (const name of names) {
      const secret = `${user.accessToken}.${randomBytes(8).toString('hex')}`;
      for (const [method, path] of [
        ['GET', '/ws'],
        ['GET', '/auth/me'],
        ['POST', '/auth/login'],
        ['GET', '/no/such/route'],
      ] as const) {
        await rawRequest(app.url, method, `${path}?${name}=${encodeURIComponent(secret)}&x=1`, {
          token: user.accessToken,
          ...(method === 'POST' ? { body: {} } : {}),
        });
      }
      if (lines.some((l) => l.includes(secret.slice(-40)))) leaked.push(name);
    }
    return leaked;
  }

  it('[CONTRACT Tokens "Logs never contain…", CWE-532] a token sent in the query string of a plain HTTP request under a token parameter name (any case or percent-encoding) is logged [redacted]', async () => {
    expect(
      await queryStringLeaks([
        'ticket',
        'Ticket',
        '%74icket',
        'token',
        'TOKEN',
        'access_token',
        'accessToken',
        'refresh_token',
        'jwt',
        'bearer',
        'authorization',
      ]),
    ).toEqual([]);
  });

  // The API's own names for the other secrets (the body fields REDACTED_PATHS redacts) are redacted in URLs too.
  it('[CONTRACT Tokens "Logs never contain passwords, tokens", CWE-532] nor is a password or refresh token sent in the query string under the API\'s own names (password, refreshToken)', async () => {
    expect(
      await queryStringLeaks(['password', 'refreshToken', 'refreshtoken', 'id_token', 'api_key', 'client_secret']),
    ).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

const ADMIN = `hygiene-admin-${randomBytes(4).toString('hex')}@example.com`;
/** The token store methods that fail (like a database that is down, with a telling message) until cleared. */
const faulty = new Set<'stats' | 'isSessionActive'>();
const FAULT = 'connect ECONNREFUSED postgres://agentgate:s3cr3t-db-pass@db.internal.example:5432/prod';

describe('secret hygiene: responses', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp(
      { DEMO_MODE: '1', ADMIN_EMAILS: ADMIN },
      {
        wrapAuthStores: ({ users, tokens }) => ({
          users,
          tokens: new Proxy(tokens, {
            get(target, prop, receiver) {
              const value = Reflect.get(target, prop, receiver) as unknown;
              if (typeof value !== 'function') return value;
              const method = (value as (...a: unknown[]) => Promise<unknown>).bind(target);
              if (prop !== 'stats' && prop !== 'isSessionActive') return method;
              return async (...args: unknown[]) => {
                if (faulty.has(prop)) throw new Error(FAULT);
                return method(...args);
              };
            },
          }),
        }),
      },
    );
  });
  afterAll(async () => {
    faulty.clear();
    await app?.close();
  });

  it('[RFC 6749 §5.1, OWASP Session Management Cheat Sheet "Web Content Caching"] every response that carries a token (register, login, refresh, demo, ticket) says Cache-Control: no-store', async () => {
    const userEmail = email('cache');
    const reg = await rawRequest(app.url, 'POST', '/auth/register', { body: { email: userEmail, password: PASSWORD } });
    const login = await rawRequest(app.url, 'POST', '/auth/login', { body: { email: userEmail, password: PASSWORD } });
    const refreshed = await rawRequest(app.url, 'POST', '/auth/refresh', {
      body: { refreshToken: (login.body as AuthResponse).refreshToken },
    });
    const demo = await rawRequest(app.url, 'POST', '/auth/demo', { body: {} });
    const ticket = await rawRequest(app.url, 'POST', '/ws/ticket', {
      token: (reg.body as AuthResponse).accessToken,
      body: {},
    });
    const answers: Array<[string, RawResponse, number, string]> = [
      ['register', reg, 201, 'refreshToken'],
      ['login', login, 200, 'refreshToken'],
      ['refresh', refreshed, 200, 'refreshToken'],
      ['demo', demo, 201, 'refreshToken'],
      ['ticket', ticket, 201, 'ticket'],
    ];
    for (const [what, res, status, field] of answers) {
      expect({ what, status: res.status }).toEqual({ what, status });
      expect(res.body, what).toHaveProperty(field);
      expect({ what, cacheControl: res.headers['cache-control'] }).toEqual({
        what,
        cacheControl: expect.stringMatching(/(^|,\s*)no-store(\s*,|$)/),
      });
    }
  });

  it('[CONTRACT "Accounts" unauthenticated endpoints] /metrics, /health/live, /health/ready, /ws/health and /ws/config carry no user id, email, name, token, ticket or data path after real traffic', async () => {
    const users: User[] = await Promise.all([registerUser(app.url, 'public-a'), registerUser(app.url, 'public-b')]);
    const named = await request<AuthResponse>(app.url, 'POST', '/auth/register', {
      body: { email: email('Public.Named'), password: PASSWORD, displayName: 'Zebulon Quartermaine' },
    });
    const ticket = await request<TicketResponse>(app.url, 'POST', '/ws/ticket', {
      token: named.body.accessToken,
      body: {},
    });
    const ws = await TestSocket.open(wsUrl(app.url), {
      headers: { authorization: `Bearer ${users[0]?.accessToken ?? ''}` },
    });
    const ack = await send(ws, { id: 'public', text: 'calculate 6*7' });
    await terminalOf(ws, ack.runId);
    await rawRequest(app.url, 'POST', '/auth/login', { body: { email: users[1]?.email, password: 'wrong password' } });
    const secrets = [
      ...users.flatMap((u) => [u.user.id, u.email, u.email.toLowerCase(), u.accessToken, u.refreshToken]),
      named.body.user.id,
      named.body.user.email,
      named.body.user.email.toLowerCase(),
      'Zebulon',
      named.body.accessToken,
      named.body.refreshToken,
      ticket.body.ticket,
      ack.runId,
      ack.threadId,
      app.dataDir,
      'agentgate.sqlite',
      'jwt-signing-key',
    ];
    for (const path of PUBLIC_PATHS) {
      const res = await rawRequest(app.url, 'GET', path);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect({ path, leaks: leaksIn(res.text, secrets) }).toEqual({ path, leaks: [] });
      expect(res.text, path).not.toMatch(/@example\.com/);
    }
    ws.close();
  });

  it('[CWE-209, docs/SECURITY.md "HTTP hygiene"] error bodies carry a code and a message, never a stack, a cause or a connection string: 500 from a failing store, 503 on HTTP and at the upgrade, and the everyday 4xx', async () => {
    const admin = await request<AuthResponse>(app.url, 'POST', '/auth/register', {
      body: { email: ADMIN, password: PASSWORD },
    });
    expect(admin.body.user.isAdmin).toBe(true);
    const user = await registerUser(app.url, 'errors');
    const bodies: Array<[string, number, string]> = [];
    const record = (what: string, res: { status: number; text: string }): void =>
      void bodies.push([what, res.status, res.text]);

    try {
      faulty.add('stats');
      record(
        'stats while the store throws',
        await rawRequest(app.url, 'GET', '/auth/stats', { token: admin.body.accessToken }),
      );
      faulty.add('isSessionActive');
      record('me while the store throws', await rawRequest(app.url, 'GET', '/auth/me', { token: user.accessToken }));
      const refused = await upgrade(app, { authorization: `Bearer ${user.accessToken}` });
      refused.socket?.destroy();
      expect(refused.status).toBe(503);
    } finally {
      faulty.clear();
    }
    record('invalid JSON', await rawRequest(app.url, 'POST', '/auth/login', { body: '{"email":' }));
    record('invalid body', await rawRequest(app.url, 'POST', '/auth/register', { body: { email: 42, password: [] } }));
    record(
      'too large',
      await rawRequest(app.url, 'POST', '/auth/login', { body: { email: 'a@b.c', password: 'p'.repeat(70_000) } }),
    );
    record(
      'wrong media type',
      await rawRequest(app.url, 'POST', '/auth/login', { body: 'email=a', headers: { 'content-type': 'text/plain' } }),
    );
    record('no route', await rawRequest(app.url, 'GET', '/no/such/route'));
    record(
      'bad token',
      await rawRequest(app.url, 'GET', '/auth/me', { token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' }),
    );
    record('bad percent-encoding', await rawRequest(app.url, 'GET', '/threads/%E0%A4%A'));

    expect(bodies.slice(0, 2).map(([what, status]) => [what, status])).toEqual([
      ['stats while the store throws', 500],
      ['me while the store throws', 503],
    ]);
    expect(JSON.parse(bodies[0]?.[2] ?? '{}')).toEqual({
      error: { code: 'internal_error', message: expect.any(String) },
    });
    for (const [what, status, text] of bodies) {
      expect({ what, status: status >= 400 }).toEqual({ what, status: true });
      const body = JSON.parse(text) as { error: Record<string, unknown> };
      expect(Object.keys(body), what).toEqual(['error']);
      for (const key of Object.keys(body.error))
        expect(['code', 'message', 'details'], `${what}: ${key}`).toContain(key);
      expect(text, what).not.toMatch(
        /\n\s+at |\bat [\w.<>]+ \(|\.[cm]?[jt]s:\d+|node_modules|\/src\/|\bstack\b|\bcause\b/i,
      );
      for (const detail of [
        'ECONNREFUSED',
        's3cr3t-db-pass',
        'db.internal',
        'postgres://',
        'SyntaxError',
        'ZodError',
        'FST_',
      ])
        expect(text, what).not.toContain(detail);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------

describeWithServices(
  ['postgres', 'redis'],
  'secret hygiene: public endpoints with PostgreSQL and Redis, up and down',
  () => {
    let pgProxy: TcpProxy | undefined;
    let redisProxy: TcpProxy | undefined;
    let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
    let app: TestApp;
    const secrets: string[] = [];
    const jwtSecret = randomBytes(48).toString('base64url');

    beforeAll(async () => {
      database = await createTestDatabase();
      const pgTarget = new URL(database.url);
      const redisUrl = TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
      const redisTarget = new URL(redisUrl);
      pgProxy = await startTcpProxy({ host: pgTarget.hostname, port: Number(pgTarget.port || '5432') });
      redisProxy = await startTcpProxy({ host: redisTarget.hostname, port: Number(redisTarget.port || '6379') });
      const prefix = testRedisPrefix();
      const env = {
        DATABASE_URL: pgProxy.url(database.url),
        REDIS_URL: redisProxy.url(redisUrl),
        REDIS_KEY_PREFIX: prefix,
        JWT_SECRET_KEY: jwtSecret,
      };
      app = await createTestApp(env);
      const dbName = pgTarget.pathname.slice(1);
      secrets.push(
        env.DATABASE_URL,
        env.REDIS_URL,
        database.url,
        redisUrl,
        dbName,
        prefix,
        jwtSecret,
        'postgres://',
        'postgresql://',
        'redis://',
        `:${pgProxy.port}`,
        `:${redisProxy.port}`,
      );
      if (pgTarget.password !== '') secrets.push(decodeURIComponent(pgTarget.password));
    });
    afterAll(async () => {
      try {
        await Promise.all([pgProxy?.restore(), redisProxy?.restore()]);
        await app?.close();
      } finally {
        await Promise.all([pgProxy?.close(), redisProxy?.close()]);
        await database?.drop();
      }
    });

    async function readyBecomes(status: number): Promise<RawResponse> {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const res = await rawRequest(app.url, 'GET', '/health/ready');
        if (res.status === status || Date.now() > deadline) return res;
        await delay(200);
      }
    }

    async function expectClean(when: string): Promise<void> {
      for (const path of PUBLIC_PATHS) {
        const res = await rawRequest(app.url, 'GET', path);
        expect({ when, path, leaks: leaksIn(res.text, secrets) }).toEqual({ when, path, leaks: [] });
        expect(res.text, `${when} ${path}`).not.toMatch(/\bE(?:CONN\w+|TIMEDOUT|HOSTUNREACH|NOTFOUND|PIPE)\b/);
        expect(res.text, `${when} ${path}`).not.toMatch(
          /connection (?:refused|reset|terminated|timeout)|password|\bat [\w.<>]+ \(/i,
        );
      }
    }

    it('[CONTRACT "Accounts" "no … connection strings"] up, and while PostgreSQL and Redis are both unreachable, no public endpoint names a URL, host:port, database, key prefix, secret or the reason of a failure; /health/ready names the components only', async () => {
      const user = await registerUser(app.url, 'services');
      secrets.push(user.user.id, user.email, user.accessToken, user.refreshToken);
      expect((await readyBecomes(200)).status).toBe(200);
      await expectClean('up');

      await Promise.all([pgProxy?.cut(), redisProxy?.cut()]);
      // Let the pool see its idle connections drop before the next query: a query in flight on a connection that
      // drops crashes the process today (node-postgres emits 'error' on a checked-out client, which has no listener;
      // src/storage/postgres/database.ts handles idle clients only). Reported apart: not what this test is about.
      await delay(500);
      const down = await readyBecomes(503);
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({
        status: 'unavailable',
        failing: expect.arrayContaining(['database', 'redis']),
      });
      await expectClean('down');

      await Promise.all([pgProxy?.restore(), redisProxy?.restore()]);
      expect((await readyBecomes(200)).status).toBe(200);
    }, 60_000);
  },
);
