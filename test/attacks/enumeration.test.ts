import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthResponse } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, type HttpResult, type TestApp } from '../../src/testing/index.js';
import {
  codeOf,
  expectRateLimited,
  freshEmail as email,
  PASSWORD,
  rawRequest,
  type RawResponse,
} from './helpers/identity.js';

/**
 * Account enumeration and online guessing (OWASP Authentication Cheat Sheet, "Authentication and Error Messages" and
 * "Protect Against Automated Attacks"; CWE-204 observable response discrepancy, CWE-208 observable timing
 * discrepancy). CONTRACT "Accounts": unknown email and wrong password answer alike and in similar time; login is
 * rate limited per IP and per account (429 `rate_limited` + Retry-After). Register answers 409 `email_taken` for a
 * taken email: documented, and rate limited per IP like login.
 */

let app: TestApp;
let limited: TestApp;
beforeAll(async () => {
  [app, limited] = await Promise.all([createTestApp(), createTestApp({ LOGIN_ATTEMPTS_PER_MINUTE: '3' })]);
});
afterAll(async () => {
  await Promise.all([app?.close(), limited?.close()]);
});

/** Tests below play clients on their own loopback addresses, so per-IP budgets of one test never touch another's. */
let nextHost = 10;
const newClientIp = (): string => `127.0.0.${++nextHost}`;
const login = (target: TestApp, body: unknown, localAddress: string): Promise<RawResponse> =>
  rawRequest(target.url, 'POST', '/auth/login', { body, localAddress });

async function registerFrom(
  target: TestApp,
  localAddress: string,
): Promise<{ id: string; email: string; password: string }> {
  const userEmail = email('limits');
  const res = await rawRequest(target.url, 'POST', '/auth/register', {
    body: { email: userEmail, password: PASSWORD },
    localAddress,
  });
  expect(res.status, res.text).toBe(201);
  return { id: (res.body as AuthResponse).user.id, email: userEmail, password: PASSWORD };
}

describe('enumeration: failed logins answer alike', () => {
  it('[OWASP Authentication Cheat Sheet "Authentication and Error Messages", CWE-204] 401 invalid_credentials with an identical body for unknown email and wrong password', async () => {
    const user = await registerUser(app.url, 'wrongpw');
    const wrong = await request(app.url, 'POST', '/auth/login', {
      body: { email: user.email, password: 'not the password' },
    });
    const unknown = await request(app.url, 'POST', '/auth/login', {
      body: { email: email('nobody'), password: 'not the password' },
    });
    const short = await request(app.url, 'POST', '/auth/login', { body: { email: user.email, password: 'x' } });
    for (const res of [wrong, unknown, short]) {
      expect(res.status).toBe(401);
      expect(codeOf(res)).toBe('invalid_credentials');
      expect(res.headers.get('www-authenticate') ?? '').toBe(wrong.headers.get('www-authenticate') ?? '');
    }
    expect(unknown.body).toEqual(wrong.body);
    expect(short.body).toEqual(wrong.body);
  });

  it('[OWASP Authentication Cheat Sheet "Authentication and Error Messages", CWE-208] unknown email and wrong password take similar time (median ratio 0.33–3x)', async () => {
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
    expect(
      ratio,
      `unknown ${median(unknown).toFixed(1)} ms vs wrong password ${median(wrong).toFixed(1)} ms`,
    ).toBeGreaterThan(0.33);
    expect(ratio).toBeLessThan(3);
  });

  it('[OWASP Authentication Cheat Sheet "Authentication and Error Messages", CWE-204] the password rules split no answers: any password shape gets the same answer for a known and an unknown email', async () => {
    const user = await registerUser(app.url, 'shapes');
    const ghost = email('ghost');
    for (const password of [
      '',
      'x',
      '1234567',
      ' ',
      '\u0000',
      'p'.repeat(1024),
      '😀'.repeat(3),
      'p'.repeat(1025),
      'p'.repeat(5000),
    ]) {
      const known = await rawRequest(app.url, 'POST', '/auth/login', { body: { email: user.email, password } });
      const unknown = await rawRequest(app.url, 'POST', '/auth/login', { body: { email: ghost, password } });
      const what = `password of ${password.length} UTF-16 units`;
      expect({ what, status: known.status }).toEqual({ what, status: unknown.status });
      expect(known.text, what).toBe(unknown.text);
      expect([400, 401], what).toContain(known.status);
    }
  });

  it('[OWASP Authentication Cheat Sheet "Authentication and Error Messages", CWE-204] a disabled account answers like an unknown email, even to its right password', async () => {
    const user = await registerUser(app.url, 'disabled');
    const db = new Database(join(app.dataDir, 'agentgate.sqlite'), { timeout: 5_000 });
    try {
      expect(
        db.prepare('UPDATE users SET disabled_at = ? WHERE id = ?').run(new Date().toISOString(), user.user.id).changes,
      ).toBe(1);
    } finally {
      db.close();
    }
    const right = await rawRequest(app.url, 'POST', '/auth/login', {
      body: { email: user.email, password: user.password },
    });
    const unknown = await rawRequest(app.url, 'POST', '/auth/login', {
      body: { email: email('nobody'), password: user.password },
    });
    expect(right.status).toBe(401);
    expect(right.text).toBe(unknown.text);
    expect(codeOf(right)).toBe('invalid_credentials');
  });

  it('[CONTRACT HTTP API "409 email_taken" (documented), OWASP Authentication Cheat Sheet "User IDs"] 409 email_taken for a duplicate, also when it differs only in case (A@x.com vs a@x.com)', async () => {
    const local = `Dup-${randomUUID()}`;
    const first = await request(app.url, 'POST', '/auth/register', {
      body: { email: `${local}@Example.com`, password: PASSWORD },
    });
    expect(first.status).toBe(201);
    for (const variant of [
      `${local}@Example.com`,
      `${local.toLowerCase()}@example.com`,
      `${local.toUpperCase()}@EXAMPLE.COM`,
    ]) {
      const res = await request(app.url, 'POST', '/auth/register', {
        body: { email: variant, password: 'another password' },
      });
      expect(res.status).toBe(409);
      expect(codeOf(res)).toBe('email_taken');
    }
  });

  it('[CONTRACT HTTP API "409 email_taken" (documented)] the 409 tells that the email is taken and nothing about the account behind it', async () => {
    const owner = await registerUser(app.url, 'taken');
    const res = await rawRequest(app.url, 'POST', '/auth/register', {
      body: { email: ` ${owner.email.toUpperCase()} `, password: 'another password', displayName: 'Mallory' },
    });
    expect(res.status).toBe(409);
    expect(Object.keys(res.body as object)).toEqual(['error']);
    expect(Object.keys((res.body as { error: object }).error).sort()).toEqual(['code', 'message']);
    for (const leak of [owner.user.id, owner.email, owner.email.toUpperCase(), owner.user.createdAt])
      expect(res.text).not.toContain(leak);
    expect(res.headers['cache-control']).toContain('no-store');
  });
});

describe('enumeration: guessing is rate limited (LOGIN_ATTEMPTS_PER_MINUTE=3)', () => {
  it('[OWASP Authentication Cheat Sheet "Protect Against Automated Attacks", CWE-307] the 4th login attempt in a minute gets 429 rate_limited with Retry-After', async () => {
    const user = await registerUser(limited.url, 'limited');
    for (let i = 0; i < 3; i++) {
      const res = await request(limited.url, 'POST', '/auth/login', {
        body: { email: user.email, password: 'wrong password' },
      });
      expect(res.status).toBe(401);
    }
    expectRateLimited(
      await request(limited.url, 'POST', '/auth/login', { body: { email: user.email, password: 'wrong password' } }),
    );
    // The limit holds even for the right password, and for another account from the same client.
    expectRateLimited(
      await request(limited.url, 'POST', '/auth/login', { body: { email: user.email, password: user.password } }),
    );
    expectRateLimited(
      await request(limited.url, 'POST', '/auth/login', { body: { email: email(), password: PASSWORD } }),
    );
  });

  it('[OWASP Authentication Cheat Sheet "Protect Against Automated Attacks"] register is rate limited too (429 rate_limited + Retry-After), so the 409 email_taken oracle cannot be polled', async () => {
    const statuses: HttpResult<unknown>[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        await request(limited.url, 'POST', '/auth/register', { body: { email: email('burst'), password: PASSWORD } }),
      );
    expect(statuses.filter((r) => r.status === 201).length).toBeLessThanOrEqual(3);
    expectRateLimited(statuses.at(-1) as HttpResult<unknown>);
  });

  it('[OWASP Authentication Cheat Sheet "Protect Against Automated Attacks", CWE-307] per IP: one client spreading guesses over many accounts is stopped at the 4th, whatever account it names', async () => {
    const ip = newClientIp();
    const victim = await registerFrom(limited, newClientIp());
    for (let i = 0; i < 3; i++)
      expect((await login(limited, { email: email('spray'), password: 'Summer2024!' }, ip)).status).toBe(401);
    expectRateLimited(await login(limited, { email: email('spray'), password: 'Summer2024!' }, ip));
    expectRateLimited(await login(limited, { email: victim.email, password: victim.password }, ip));
    // Another client is not affected by this one's budget.
    expect((await login(limited, { email: victim.email, password: victim.password }, newClientIp())).status).toBe(200);
  });

  it('[OWASP Authentication Cheat Sheet "Protect Against Automated Attacks", CWE-307] per account: guesses at one account from many IPs are stopped at the 4th, and the account\'s owner elsewhere is not locked out for good', async () => {
    const victim = await registerFrom(limited, newClientIp());
    for (let i = 0; i < 3; i++)
      expect((await login(limited, { email: victim.email, password: `guess ${i}` }, newClientIp())).status).toBe(401);
    const fourth = newClientIp();
    expectRateLimited(await login(limited, { email: victim.email.toUpperCase(), password: 'guess 3' }, fourth));
    // The same fresh IP may still try another account: it was the account's budget that ran out, not the IP's.
    expect((await login(limited, { email: email('other'), password: 'guess 3' }, fourth)).status).toBe(401);
  });

  it('[OWASP Authentication Cheat Sheet "Authentication and Error Messages", CWE-204] the per-account limit treats an unknown email exactly like a real one: same count, same 429 body', async () => {
    const victim = await registerFrom(limited, newClientIp());
    const ghost = email('ghost');
    const answers: Record<'known' | 'unknown', RawResponse[]> = { known: [], unknown: [] };
    for (let i = 0; i < 4; i++) {
      answers.known.push(await login(limited, { email: victim.email, password: `guess ${i}` }, newClientIp()));
      answers.unknown.push(await login(limited, { email: ghost, password: `guess ${i}` }, newClientIp()));
    }
    expect(answers.known.map((r) => r.status)).toEqual([401, 401, 401, 429]);
    expect(answers.unknown.map((r) => r.status)).toEqual(answers.known.map((r) => r.status));
    for (let i = 0; i < 3; i++) expect(answers.unknown[i]?.text).toBe(answers.known[i]?.text);
    // The 429s differ at most in the seconds left (the two windows opened a few ms apart).
    const seconds = (r: RawResponse | undefined): string => (r?.text ?? '').replace(/\d+/g, 'N');
    expect(seconds(answers.unknown[3])).toBe(seconds(answers.known[3]));
    expectRateLimited(answers.unknown[3] as RawResponse);
  });
});
