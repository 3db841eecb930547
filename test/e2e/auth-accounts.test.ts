// Accounts: register, login, /auth/me basics, the refresh rate limit and HTTP body rules (CONTRACT.md "HTTP API",
// "Accounts"). Attacks on accounts live in test/attacks/: enumeration (identical failures, timing, login and register
// limits, email_taken), passwords (length rules, hashing), mass-assignment (role/isAdmin), secret-hygiene.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthResponse } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, type HttpResult, type TestApp } from '../../src/testing/index.js';
import { expectAuthResponse } from '../attacks/helpers/identity.js';

type ErrorBody = { error: { code: string; message: string } };
const codeOf = (res: HttpResult<unknown>): string | undefined =>
  (res.body as Partial<ErrorBody> | undefined)?.error?.code;
const email = (prefix = 'acct'): string => `${prefix}-${randomUUID()}@example.com`;
const PASSWORD = 'correct horse battery';

let app: TestApp;
let limited: TestApp;
let smallBody: TestApp;
beforeAll(async () => {
  [app, limited, smallBody] = await Promise.all([
    createTestApp(),
    createTestApp({ REFRESH_ATTEMPTS_PER_MINUTE: '3' }),
    createTestApp({ HTTP_BODY_LIMIT_BYTES: '1024' }),
  ]);
});
afterAll(async () => {
  await Promise.all([app?.close(), limited?.close(), smallBody?.close()]);
});

describe('POST /auth/register', () => {
  it('contract: 201 {user, accessToken, refreshToken, tokenType:"Bearer", expiresIn} with Cache-Control: no-store', async () => {
    const e = email();
    const res = await request<AuthResponse>(app.url, 'POST', '/auth/register', {
      body: { email: e, password: PASSWORD, displayName: 'Ada' },
    });
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
  ])('contract: 400 invalid_request for %s', async (_name, body) => {
    const res = await request(app.url, 'POST', '/auth/register', { body });
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('invalid_request');
  });
});

describe('POST /auth/login', () => {
  it('contract: 200, same shape as register, with Cache-Control: no-store; a new login is a new session', async () => {
    const user = await registerUser(app.url, 'login');
    const res = await request<AuthResponse>(app.url, 'POST', '/auth/login', {
      body: { email: user.email, password: user.password },
    });
    expectAuthResponse(res, 200, user.email);
    expect(res.body.user.id).toBe(user.user.id);
    expect(res.body.refreshToken).not.toBe(user.refreshToken);
    expect((await request(app.url, 'GET', '/auth/me', { token: res.body.accessToken })).status).toBe(200);
  });

  it('contract "emails are unique case-insensitively": login with a different email case works', async () => {
    const user = await registerUser(app.url, 'mixedcase');
    const res = await request<AuthResponse>(app.url, 'POST', '/auth/login', {
      body: { email: user.email.toUpperCase(), password: user.password },
    });
    expectAuthResponse(res, 200);
    expect(res.body.user.id).toBe(user.user.id);
  });

  it('contract: 400 invalid_request when email or password is missing', async () => {
    for (const body of [{}, { email: email() }, { password: PASSWORD }]) {
      const res = await request(app.url, 'POST', '/auth/login', { body });
      expect(res.status).toBe(400);
      expect(codeOf(res)).toBe('invalid_request');
    }
  });
});

describe('rate limits (REFRESH_ATTEMPTS_PER_MINUTE=3)', () => {
  const expectLimited = (res: HttpResult<unknown>): void => {
    expect(res.status).toBe(429);
    expect(codeOf(res)).toBe('rate_limited');
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  };

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

  it.each([
    ['garbage', 'Bearer not-a-jwt'],
    ['three garbage segments', 'Bearer a.b.c'],
    ['wrong scheme', 'Basic dXNlcjpwYXNz'],
    ['empty bearer', 'Bearer '],
  ])('RFC 6750 3.1: /auth/me with %s credentials → 401 invalid_token', async (_name, authorization) => {
    const res = await request(app.url, 'GET', '/auth/me', { headers: { authorization } });
    expect(res.status).toBe(401);
    expect(codeOf(res)).toBe('invalid_token');
  });

  it('contract: a body above HTTP_BODY_LIMIT_BYTES gets 413 payload_too_large (default limit and a configured one)', async () => {
    const big = await request(app.url, 'POST', '/auth/register', {
      body: { email: email(), password: PASSWORD, displayName: 'x'.repeat(70_000) },
    });
    expect(big.status).toBe(413);
    expect(codeOf(big)).toBe('payload_too_large');
    const small = await request(smallBody.url, 'POST', '/auth/login', {
      body: { email: email(), password: 'p'.repeat(1100) },
    });
    expect(small.status).toBe(413);
    expect(codeOf(small)).toBe('payload_too_large');
    // Just under the limit is parsed normally.
    const ok = await request(smallBody.url, 'POST', '/auth/login', {
      body: { email: email(), password: 'p'.repeat(900) },
    });
    expect(ok.status).toBe(401);
  });

  it('contract: malformed JSON gets 400 invalid_request', async () => {
    for (const path of ['/auth/register', '/auth/login', '/auth/refresh']) {
      const res = await request(app.url, 'POST', path, { body: '{"email": "a@b.c", "password": ' });
      expect(res.status).toBe(400);
      expect(codeOf(res)).toBe('invalid_request');
    }
  });

  it('contract v2: GET /auth/providers answers an empty list without OIDC_ISSUER, and the OIDC routes are 404', async () => {
    const providers = await request(app.url, 'GET', '/auth/providers');
    expect(providers.status).toBe(200);
    expect(providers.body).toEqual({ providers: [] });
    for (const [method, path] of [
      ['GET', '/auth/oidc/start?returnTo=/'],
      ['GET', '/auth/oidc/callback?code=x&state=y'],
      ['POST', '/auth/oidc/exchange'],
    ] as const) {
      const res = await request(app.url, method, path, method === 'POST' ? { body: { code: 'x' } } : {});
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
  });
});
