import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserStore } from '../../src/auth/index.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { createTestApp, registerUser, request, type TestApp } from '../../src/testing/index.js';
import { createTestDatabase } from '../../src/testing/services.js';
import { connect } from './helpers/runs.js';

/**
 * Hardening: U+0000 in any string that could reach storage is refused at the edge (PostgreSQL's `text` cannot
 * hold it), and a statement the database refuses for its input never counts toward the auth circuit breaker: no
 * request, however crafted, can take authentication down for everyone.
 */

const NUL = '\u0000';
const errorCode = (body: unknown): string | undefined => (body as { error?: { code?: string } })?.error?.code;

/** The users store, except that findByEmail of an address starting `refused-` asks the database to store a NUL. */
function refusingUsers(users: UserStore): UserStore {
  return new Proxy(users, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'findByEmail' && typeof value === 'function') {
        return (email: string) =>
          (value as UserStore['findByEmail']).call(target, email.startsWith('refused-') ? `${email}${NUL}` : email);
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function nulSuite(dialect: string, env: () => Promise<{ env: Record<string, string>; close(): Promise<void> }>): void {
  let app: TestApp;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const setup = await env();
    close = setup.close;
    app = await createTestApp(
      { LOGIN_ATTEMPTS_PER_MINUTE: '1000', ...setup.env },
      { wrapAuthStores: ({ users, tokens }) => ({ users: refusingUsers(users), tokens }) },
    );
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await close?.();
  });

  it(`${dialect}: twenty logins with a NUL in the email are each 400 invalid_request; logins, Bearer requests and readiness stay up`, async () => {
    const user = await registerUser(app.url, 'nul-login');
    for (let i = 0; i < 20; i++) {
      const res = await request(app.url, 'POST', '/auth/login', {
        body: { email: `a${NUL}${i}@example.com`, password: 'whatever password' },
      });
      expect([res.status, errorCode(res.body)]).toEqual([400, 'invalid_request']);
    }
    expect((await request(app.url, 'GET', '/health/ready')).status).toBe(200);
    const login = await request(app.url, 'POST', '/auth/login', {
      body: { email: user.email, password: user.password },
    });
    expect(login.status).toBe(200);
    expect((await request(app.url, 'GET', '/auth/me', { token: user.accessToken })).status).toBe(200);
  });

  it(`${dialect}: a NUL in a path id, a query, a register field or an AG-UI message is 400 invalid_request, never 500`, async () => {
    const user = await registerUser(app.url, 'nul-edge');
    const token = user.accessToken;
    const answers = await Promise.all([
      request(app.url, 'GET', `/threads/abc%00def`, { token }),
      request(app.url, 'GET', `/threads/abc%00def/messages`, { token }),
      request(app.url, 'GET', `/runs/${randomUUID()}/events?after=0&x=%00`, { token }),
      request(app.url, 'POST', '/auth/register', {
        body: { email: `nul-${randomUUID()}@example.com`, password: 'correct horse battery', displayName: `a${NUL}b` },
      }),
      request(app.url, 'POST', '/agui', {
        token,
        body: {
          threadId: randomUUID(),
          runId: randomUUID(),
          messages: [{ id: 'm1', role: 'user', content: `hello${NUL}` }],
          tools: [],
          context: [],
          state: {},
          forwardedProps: {},
        },
      }),
    ]);
    for (const res of answers) expect([res.status, errorCode(res.body)]).toEqual([400, 'invalid_request']);
  });

  it(`${dialect}: a user_message, resume or cancel with a NUL gets error invalid_message (replyTo kept) and the socket stays open`, async () => {
    const user = await registerUser(app.url, 'nul-ws');
    const ws = await connect(app, user);
    try {
      const frames = [
        { type: 'user_message', id: 'm1', text: `calculate 1+1${NUL}` },
        { type: 'user_message', id: 'm2', text: 'calculate 1+1', threadId: `t${NUL}` },
        { type: 'resume', id: 'm3', runId: `r${NUL}`, afterSeq: 0 },
        { type: 'cancel_run', id: 'm4', runId: `r${NUL}` },
      ];
      for (const frame of frames) {
        ws.send(frame);
        const answer = await ws.next((m) => m.type === 'error' && m.replyTo === frame.id);
        expect(answer).toMatchObject({ type: 'error', code: 'invalid_message' });
      }
      ws.send({ type: 'ping', id: 'alive' });
      await ws.next((m) => m.type === 'pong' && m.replyTo === 'alive');
    } finally {
      ws.close();
    }
  });

  it(`${dialect}: statements the database refuses for their input do not open the auth circuit breaker`, async () => {
    const user = await registerUser(app.url, 'nul-breaker');
    // Past the edge (a store bug, or input the edge does not know about): the database refuses the statement.
    for (let i = 0; i < 8; i++) {
      const res = await request(app.url, 'POST', '/auth/login', {
        body: { email: `refused-${i}@example.com`, password: 'whatever password' },
      });
      // PostgreSQL refuses the NUL (an internal error of that request); SQLite stores it and finds no such user.
      expect([res.status, errorCode(res.body)]).toEqual(
        dialect === 'PostgreSQL' ? [500, 'internal_error'] : [401, 'invalid_credentials'],
      );
    }
    expect((await request(app.url, 'GET', '/health/ready')).status).toBe(200);
    const login = await request(app.url, 'POST', '/auth/login', {
      body: { email: user.email, password: user.password },
    });
    expect(login.status).toBe(200);
  });
}

describe('hardening: NUL characters (SQLite)', () => {
  nulSuite('SQLite', async () => ({ env: {}, close: async () => {} }));
});

describeWithServices(['postgres'], 'hardening: NUL characters (PostgreSQL)', () => {
  nulSuite('PostgreSQL', async () => {
    const database = await createTestDatabase();
    return { env: { DATABASE_URL: database.url }, close: () => database.drop() };
  });
});
