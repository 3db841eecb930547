import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthResponse } from '../../src/protocol/index.js';
import { createTestApp, request, type TestApp } from '../../src/testing/index.js';
import { codeOf, expectAuthResponse, freshEmail as email, PASSWORD } from './helpers/identity.js';

/**
 * Password storage and password rules (OWASP Password Storage Cheat Sheet: "Use Argon2id with a minimum
 * configuration of 19 MiB of memory, an iteration count of 2, and 1 degree of parallelism", salted; OWASP
 * Authentication Cheat Sheet "Implement Proper Password Strength Controls": all characters allowed, Unicode
 * included). CONTRACT "Accounts": passwords are 8 to 1024 characters, hashed with argon2id at or above the OWASP
 * minimum. The stored hashes are read straight from the test app's SQLite file.
 */

const OWASP_MIN = { m: 19_456, t: 2, p: 1 } as const;

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

/** The stored password hash of a user, from the SQLite database under the app's DATA_DIR. */
function storedHash(userId: string): string {
  const db = new Database(join(app.dataDir, 'agentgate.sqlite'), {
    readonly: true,
    fileMustExist: true,
    timeout: 5_000,
  });
  try {
    const row = db.prepare('SELECT password_hash FROM users WHERE id = ?').get(userId) as
      { password_hash: string } | undefined;
    if (row === undefined) throw new Error(`no user ${userId} in the database`);
    return row.password_hash;
  } finally {
    db.close();
  }
}

/** The PHC string of an argon2 hash: `$argon2id$v=19$<m=…,t=…,p=… in any order>$<salt>$<hash>`. */
function parsePhc(phc: string): {
  algorithm: string;
  version: number;
  m: number;
  t: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
} {
  const match = /^\$(argon2(?:id|i|d))\$v=(\d+)\$([a-z]=\d+(?:,[a-z]=\d+)*)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(
    phc,
  );
  if (match === null) throw new Error(`not an argon2 PHC string: ${phc.slice(0, 40)}…`);
  const [, algorithm = '', version = '', params = '', salt = '', hash = ''] = match;
  const value = new Map(params.split(',').map((kv) => kv.split('=') as [string, string]));
  const param = (name: string): number => Number(value.get(name) ?? Number.NaN);
  return {
    algorithm,
    version: Number(version),
    m: param('m'),
    t: param('t'),
    p: param('p'),
    salt: Buffer.from(salt, 'base64'),
    hash: Buffer.from(hash, 'base64'),
  };
}

async function register(
  password: string,
): Promise<{ email: string; res: Awaited<ReturnType<typeof request<AuthResponse>>> }> {
  const userEmail = email('pw');
  return {
    email: userEmail,
    res: await request<AuthResponse>(app.url, 'POST', '/auth/register', { body: { email: userEmail, password } }),
  };
}

const loginStatus = async (userEmail: string, password: string): Promise<number> =>
  (await request(app.url, 'POST', '/auth/login', { body: { email: userEmail, password } })).status;

describe('passwords: storage', () => {
  it('[OWASP Password Storage Cheat Sheet "Argon2id"] the stored hash is argon2id v=19 with m ≥ 19456 KiB, t ≥ 2, p ≥ 1, a salt of ≥ 16 bytes and a tag of ≥ 32 bytes, and holds nothing of the password', async () => {
    const password = 'Tr0ub4dor&3 correct horse';
    const { res } = await register(password);
    expect(res.status).toBe(201);
    const phc = storedHash(res.body.user.id);
    const parsed = parsePhc(phc);
    expect(parsed.algorithm).toBe('argon2id');
    expect(parsed.version).toBe(19);
    expect(parsed.m).toBeGreaterThanOrEqual(OWASP_MIN.m);
    expect(parsed.t).toBeGreaterThanOrEqual(OWASP_MIN.t);
    expect(parsed.p).toBeGreaterThanOrEqual(OWASP_MIN.p);
    expect(parsed.salt.length).toBeGreaterThanOrEqual(16);
    expect(parsed.hash.length).toBeGreaterThanOrEqual(32);
    for (const form of [
      password,
      Buffer.from(password).toString('base64').replace(/=+$/, ''),
      Buffer.from(password).toString('hex'),
    ])
      expect(phc).not.toContain(form);
  });

  it('[OWASP Password Storage Cheat Sheet "Salting"] the same password for two users is stored as two different hashes with two different salts', async () => {
    const [first, second] = await Promise.all([register(PASSWORD), register(PASSWORD)]);
    expect(first.res.status).toBe(201);
    expect(second.res.status).toBe(201);
    const [a, b] = [storedHash(first.res.body.user.id), storedHash(second.res.body.user.id)];
    expect(a).not.toBe(b);
    expect(parsePhc(a).salt.equals(parsePhc(b).salt)).toBe(false);
    expect(parsePhc(a).hash.equals(parsePhc(b).hash)).toBe(false);
    // Both still verify.
    expect(await loginStatus(first.email, PASSWORD)).toBe(200);
    expect(await loginStatus(second.email, PASSWORD)).toBe(200);
  });

  it('[OWASP Password Storage Cheat Sheet "Input Limits", CONTRACT "Accounts"] nothing is silently cut: passwords that differ only past byte 72, in their last of 1024 characters, or after a NUL do not open each other\'s account', async () => {
    const cases: Array<[string, string]> = [
      [`${'a'.repeat(72)}X`, `${'a'.repeat(72)}Y`],
      [`${'é'.repeat(40)}X`, `${'é'.repeat(40)}Y`], // 80 UTF-8 bytes before the difference
      [`${'p'.repeat(1023)}X`, `${'p'.repeat(1023)}Y`],
      ['prefix\u0000suffix-one', 'prefix\u0000suffix-two'],
      ['prefix\u0000suffix-one', 'prefix'.padEnd(8, '\u0000')],
    ];
    for (const [stored, other] of cases) {
      const { email: userEmail, res } = await register(stored);
      expect(res.status, `${stored.length} characters`).toBe(201);
      expect(await loginStatus(userEmail, stored)).toBe(200);
      expect({ other: other.slice(-12), status: await loginStatus(userEmail, other) }).toEqual({
        other: other.slice(-12),
        status: 401,
      });
    }
  });
});

describe('passwords: length and characters (8 to 1024 characters)', () => {
  it.each<[string, Record<string, unknown>]>([
    ['password of 7 chars (< 8)', { password: '1234567' }],
    ['password of 1025 chars (> 1024)', { password: 'p'.repeat(1025) }],
    ['missing password', {}],
    ['password not a string', { password: 12345678 }],
  ])(
    '[CONTRACT HTTP API "password < 8 chars", OWASP Authentication Cheat Sheet "Implement Proper Password Strength Controls"] 400 invalid_request for %s',
    async (_name, body) => {
      const res = await request(app.url, 'POST', '/auth/register', { body: { ...body, email: email() } });
      expect(res.status).toBe(400);
      expect(codeOf(res)).toBe('invalid_request');
    },
  );

  it('[CONTRACT "Accounts" 8 to 1024] passwords of exactly 8 and exactly 1024 characters are accepted (8 to 1024 inclusive)', async () => {
    for (const password of ['x7!kq2Lm', 'pq'.repeat(512)]) {
      const e = email();
      expectAuthResponse(
        await request<AuthResponse>(app.url, 'POST', '/auth/register', { body: { email: e, password } }),
        201,
        e,
      );
      expect((await request(app.url, 'POST', '/auth/login', { body: { email: e, password } })).status).toBe(200);
    }
  });

  it('[OWASP Password Storage Cheat Sheet "International Characters", CONTRACT "Accounts" 8 to 1024] Unicode and whitespace passwords work, counted in characters (code points), not UTF-16 units or bytes', async () => {
    const accepted = [
      'pässwörd ünïcödé',
      '密码密码密码密码', // 8 CJK characters, 24 UTF-8 bytes
      'كلمة السر السرية',
      '🔐🗝'.repeat(4), // 8 characters, 16 UTF-16 units
      '🔐🗝'.repeat(512), // 1024 characters, 2048 UTF-16 units, 4096 UTF-8 bytes
      '    \t   ', // whitespace only
      'tab\tand\nnewline',
      'e\u0301e\u0301e\u0301e\u0301', // combining accents
    ];
    for (const password of accepted) {
      const { email: userEmail, res } = await register(password);
      const what = `${[...password].length} characters: ${password.slice(0, 12)}`;
      expect({ what, status: res.status }).toEqual({ what, status: 201 });
      expect({ what, login: await loginStatus(userEmail, password) }).toEqual({ what, login: 200 });
      // One character changed is another password.
      const altered = [...password];
      altered[altered.length - 1] = altered.at(-1) === 'x' ? 'y' : 'x';
      expect({ what, altered: await loginStatus(userEmail, altered.join('')) }).toEqual({ what, altered: 401 });
    }
    for (const password of ['🔐'.repeat(7), '密'.repeat(7), '🔐'.repeat(1025)]) {
      const { res } = await register(password);
      expect({ characters: [...password].length, status: res.status }).toEqual({
        characters: [...password].length,
        status: 400,
      });
      expect(codeOf(res)).toBe('invalid_request');
    }
  });
});

describe('passwords: NIST SP 800-63B blocklist (common, repetitive, sequential, the email itself)', () => {
  it('[issue 20.11, NIST SP 800-63B 5.1.1.2] register refuses them with 400 invalid_request naming the password; near misses are accepted', async () => {
    const refused: Array<[string, string]> = [
      ['password', 'common'],
      ['PassWord', 'common'],
      ['12345678', 'common'],
      ['qwertyuiop', 'common'],
      ['iloveyou1', 'common'],
      ['        ', 'repeated'],
      ['aaaaaaaaaaaa', 'repeated'],
      ['🔐'.repeat(8), 'repeated'],
      ['p'.repeat(1024), 'repeated'],
      ['abcdefghij', 'consecutive'],
      ['98765432', 'consecutive'],
    ];
    for (const [password, why] of refused) {
      const res = await request<{ error: { code: string; message: string } }>(app.url, 'POST', '/auth/register', {
        body: { email: email(), password },
      });
      expect({ password, status: res.status, code: codeOf(res) }).toEqual({
        password,
        status: 400,
        code: 'invalid_request',
      });
      expect(res.body.error.message, password).toMatch(/^password: /);
      expect(res.body.error.message, password).toContain(why);
    }
    const address = email();
    const own = await request(app.url, 'POST', '/auth/register', { body: { email: address, password: address } });
    expect(own.status).toBe(400);
    for (const password of ['password-for-agentgate-7', '52719384', 'aaaaaaab', 'correct horse battery']) {
      const e = email();
      expectAuthResponse(
        await request<AuthResponse>(app.url, 'POST', '/auth/register', { body: { email: e, password } }),
        201,
        e,
      );
    }
  });
});
