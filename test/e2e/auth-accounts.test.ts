// Accounts: register, login, /auth/me basics, rate limits and HTTP body rules (CONTRACT.md "HTTP API", "Accounts").
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthResponse } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, type HttpResult, type TestApp } from '../../src/testing/index.js';

type ErrorBody = { error: { code: string; message: string } };
const codeOf = (res: HttpResult<unknown>): string | undefined => (res.body as Partial<ErrorBody> | undefined)?.error?.code;
const email = (prefix = 'acct'): string => `${prefix}-${randomUUID()}@example.com`;
const PASSWORD = 'correct horse battery';

let app: TestApp;
let limited: TestApp;
let smallBody: TestApp;
beforeAll(async () => {
  [app, limited, smallBody] = await Promise.all([
    createTestApp(),
    createTestApp({ LOGIN_ATTEMPTS_PER_MINUTE: '3', REFRESH_ATTEMPTS_PER_MINUTE: '3' }),
    createTestApp({ HTTP_BODY_LIMIT_BYTES: '1024' }),
  ]);
});
afterAll(async () => {
  await Promise.all([app?.close(), limited?.close(), smallBody?.close()]);
});

function expectAuthResponse(res: HttpResult<AuthResponse>, status: number, userEmail?: string): void {
  expect(res.status).toBe(status);
  expect(res.body).toMatchObject({
    user: { id: expect.any(String), isAdmin: false },
    accessToken: expect.any(String),
    refreshToken: expect.any(String),
    tokenType: 'Bearer',
    expiresIn: 900,
  });
  if (userEmail !== undefined) expect(res.body.user.email.toLowerCase()).toBe(userEmail.toLowerCase());
  expect(res.body.accessToken).not.toBe(res.body.refreshToken);
  // CONTRACT "Responses that carry a token send Cache-Control: no-store" (RFC 6749 5.1).
  expect(res.headers.get('cache-control')).toContain('no-store');
}

describe('POST /auth/register', () => {
  it('contract: 201 {user, accessToken, refreshToken, tokenType:"Bearer", expiresIn} with Cache-Control: no-store', async () => {
    const e = email();
    const res = await request<AuthResponse>(app.url, 'POST', '/auth/register', { body: { email: e, password: PASSWORD, displayName: 'Ada' } });
    expectAuthResponse(res, 201, e);
    expect(res.body.user.displayName).toBe('Ada');
    expect(res.body.user).not.toHaveProperty('passwordHash');
    expect(JSON.stringify(res.body)).not.toContain(PASSWORD);
    const me = await request<{ user: { id: string } }>(app.url, 'GET', '/auth/me', { token: res.body.accessToken });
    expect(me.status).toBe(200);
    expect(me.body.user.id).toBe(res.body.user.id);
  });

  it.each<[string, Record<string, unknown>]>([
    ['not an address', { email: 'not-an-email', password: PASSWORD }],
    ['no domain', { email: 'someone@', password: PASSWORD }],
    ['empty email', { email: '', password: PASSWORD }],
    ['email too long (> 254)', { email: `${'a'.repeat(250)}@example.com`, password: PASSWORD }],
    ['missing email', { password: PASSWORD }],
    ['email not a string', { email: 42, password: PASSWORD }],
    ['password of 7 chars (< 8)', { email: 'x', password: '1234567' }],
    ['password of 1025 chars (> 1024)', { email: 'x', password: 'p'.repeat(1025) }],
    ['missing password', { email: 'x' }],
    ['password not a string', { email: 'x', password: 12345678 }],
  ])('contract: 400 invalid_request for %s', async (_name, body) => {
    const withEmail = body.email === 'x' ? { ...body, email: email() } : body;
    const res = await request(app.url, 'POST', '/auth/register', { body: withEmail });
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('invalid_request');
  });

  it('contract: passwords of exactly 8 and exactly 1024 characters are accepted (8 to 1024 inclusive)', async () => {
    for (const password of ['12345678', 'p'.repeat(1024)]) {
      const e = email();
      expectAuthResponse(await request<AuthResponse>(app.url, 'POST', '/auth/register', { body: { email: e, password } }), 201, e);
      expect((await request(app.url, 'POST', '/auth/login', { body: { email: e, password } })).status).toBe(200);
    }
  });

  it('contract: 409 email_taken for a duplicate, also when it differs only in case (A@x.com vs a@x.com)', async () => {
    const local = `Dup-${randomUUID()}`;
    const first = await request(app.url, 'POST', '/auth/register', { body: { email: `${local}@Example.com`, password: PASSWORD } });
    expect(first.status).toBe(201);
    for (const variant of [`${local}@Example.com`, `${local.toLowerCase()}@example.com`, `${local.toUpperCase()}@EXAMPLE.COM`]) {
      const res = await request(app.url, 'POST', '/auth/register', { body: { email: variant, password: 'another password' } });
      expect(res.status).toBe(409);
      expect(codeOf(res)).toBe('email_taken');
    }
  });

  it('contract "Accounts": role / isAdmin in the body are ignored (user.isAdmin stays false, /auth/stats stays 403)', async () => {
    const res = await request<AuthResponse>(app.url, 'POST', '/auth/register', {
      body: { email: email(), password: PASSWORD, role: 'admin', isAdmin: true, admin: true, isDemo: true, id: 'chosen-id' },
    });
    expectAuthResponse(res, 201);
    expect(res.body.user.isAdmin).toBe(false);
    expect(res.body.user.id).not.toBe('chosen-id');
    const me = await request<{ user: { isAdmin: boolean } }>(app.url, 'GET', '/auth/me', { token: res.body.accessToken });
    expect(me.body.user.isAdmin).toBe(false);
    const stats = await request(app.url, 'GET', '/auth/stats', { token: res.body.accessToken });
    expect(stats.status).toBe(403);
    expect(codeOf(stats)).toBe('forbidden');
  });
});

describe('POST /auth/login', () => {
  it('contract: 200, same shape as register, with Cache-Control: no-store; a new login is a new session', async () => {
    const user = await registerUser(app.url, 'login');
    const res = await request<AuthResponse>(app.url, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
    expectAuthResponse(res, 200, user.email);
    expect(res.body.user.id).toBe(user.user.id);
    expect(res.body.refreshToken).not.toBe(user.refreshToken);
    expect((await request(app.url, 'GET', '/auth/me', { token: res.body.accessToken })).status).toBe(200);
  });

  it('contract "emails are unique case-insensitively": login with a different email case works', async () => {
    const user = await registerUser(app.url, 'mixedcase');
    const res = await request<AuthResponse>(app.url, 'POST', '/auth/login', { body: { email: user.email.toUpperCase(), password: user.password } });
    expectAuthResponse(res, 200);
    expect(res.body.user.id).toBe(user.user.id);
  });

  it('contract: 401 invalid_credentials with an identical body for unknown email and wrong password', async () => {
    const user = await registerUser(app.url, 'wrongpw');
    const wrong = await request(app.url, 'POST', '/auth/login', { body: { email: user.email, password: 'not the password' } });
    const unknown = await request(app.url, 'POST', '/auth/login', { body: { email: email('nobody'), password: 'not the password' } });
    const short = await request(app.url, 'POST', '/auth/login', { body: { email: user.email, password: 'x' } });
    for (const res of [wrong, unknown, short]) {
      expect(res.status).toBe(401);
      expect(codeOf(res)).toBe('invalid_credentials');
      expect(res.headers.get('www-authenticate') ?? '').toBe(wrong.headers.get('www-authenticate') ?? '');
    }
    expect(unknown.body).toEqual(wrong.body);
    expect(short.body).toEqual(wrong.body);
  });

  it('OWASP Authentication Cheat Sheet: unknown email and wrong password take similar time (median ratio 0.33–3x)', async () => {
    const user = await registerUser(app.url, 'timing');
    const time = async (body: unknown): Promise<number> => {
      const start = performance.now();
      const res = await request(app.url, 'POST', '/auth/login', { body });
      expect(res.status).toBe(401);
      return performance.now() - start;
    };
    await time({ email: email('warmup'), password: 'warm up the dummy hash' });
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 7; i++) {
      unknown.push(await time({ email: email('ghost'), password: 'not the password' }));
      wrong.push(await time({ email: user.email, password: 'not the password' }));
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const ratio = median(unknown) / median(wrong);
    expect(ratio, `unknown ${median(unknown).toFixed(1)} ms vs wrong password ${median(wrong).toFixed(1)} ms`).toBeGreaterThan(0.33);
    expect(ratio).toBeLessThan(3);
  });

  it('contract: 400 invalid_request when email or password is missing', async () => {
    for (const body of [{}, { email: email() }, { password: PASSWORD }]) {
      const res = await request(app.url, 'POST', '/auth/login', { body });
      expect(res.status).toBe(400);
      expect(codeOf(res)).toBe('invalid_request');
    }
  });
});

describe('rate limits (LOGIN_ATTEMPTS_PER_MINUTE=3, REFRESH_ATTEMPTS_PER_MINUTE=3)', () => {
  const expectLimited = (res: HttpResult<unknown>): void => {
    expect(res.status).toBe(429);
    expect(codeOf(res)).toBe('rate_limited');
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  };

  it('contract: the 4th login attempt in a minute gets 429 rate_limited with Retry-After', async () => {
    const user = await registerUser(limited.url, 'limited');
    for (let i = 0; i < 3; i++) {
      const res = await request(limited.url, 'POST', '/auth/login', { body: { email: user.email, password: 'wrong password' } });
      expect(res.status).toBe(401);
    }
    expectLimited(await request(limited.url, 'POST', '/auth/login', { body: { email: user.email, password: 'wrong password' } }));
    // The limit holds even for the right password, and for another account from the same client.
    expectLimited(await request(limited.url, 'POST', '/auth/login', { body: { email: user.email, password: user.password } }));
    expectLimited(await request(limited.url, 'POST', '/auth/login', { body: { email: email(), password: PASSWORD } }));
  });

  it('contract: register is rate limited too (429 rate_limited + Retry-After)', async () => {
    const statuses: HttpResult<unknown>[] = [];
    for (let i = 0; i < 5; i++) statuses.push(await request(limited.url, 'POST', '/auth/register', { body: { email: email('burst'), password: PASSWORD } }));
    expect(statuses.filter((r) => r.status === 201).length).toBeLessThanOrEqual(3);
    expectLimited(statuses.at(-1) as HttpResult<unknown>);
  });

  it('contract: refresh is rate limited too (a burst of 60 refreshes gets 429 rate_limited + Retry-After)', async () => {
    let last: HttpResult<unknown> | undefined;
    for (let i = 0; i < 60; i++) {
      last = await request(limited.url, 'POST', '/auth/refresh', { body: { refreshToken: `rt_guess_${i}` } });
      if (last.status === 429) break;
    }
    expectLimited(last as HttpResult<unknown>);
  });
});

describe('/auth/me and HTTP body rules', () => {
  it('contract: /auth/me without Authorization → 401', async () => {
    const res = await request(app.url, 'GET', '/auth/me');
    expect(res.status).toBe(401);
    expect(['unauthorized', 'invalid_token']).toContain(codeOf(res));
  });

  it.each([['garbage', 'Bearer not-a-jwt'], ['three garbage segments', 'Bearer a.b.c'], ['wrong scheme', 'Basic dXNlcjpwYXNz'], ['empty bearer', 'Bearer ']])(
    'RFC 6750 3.1: /auth/me with %s credentials → 401 invalid_token',
    async (_name, authorization) => {
      const res = await request(app.url, 'GET', '/auth/me', { headers: { authorization } });
      expect(res.status).toBe(401);
      expect(codeOf(res)).toBe('invalid_token');
    },
  );

  it('contract: a body above HTTP_BODY_LIMIT_BYTES gets 413 payload_too_large (default limit and a configured one)', async () => {
    const big = await request(app.url, 'POST', '/auth/register', { body: { email: email(), password: PASSWORD, displayName: 'x'.repeat(70_000) } });
    expect(big.status).toBe(413);
    expect(codeOf(big)).toBe('payload_too_large');
    const small = await request(smallBody.url, 'POST', '/auth/login', { body: { email: email(), password: 'p'.repeat(1100) } });
    expect(small.status).toBe(413);
    expect(codeOf(small)).toBe('payload_too_large');
    // Just under the limit is parsed normally.
    const ok = await request(smallBody.url, 'POST', '/auth/login', { body: { email: email(), password: 'p'.repeat(900) } });
    expect(ok.status).toBe(401);
  });

  it('contract: malformed JSON gets 400 invalid_request', async () => {
    for (const path of ['/auth/register', '/auth/login', '/auth/refresh']) {
      const res = await request(app.url, 'POST', path, { body: '{"email": "a@b.c", "password": ' });
      expect(res.status).toBe(400);
      expect(codeOf(res)).toBe('invalid_request');
    }
  });
});
