import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adoptSigningKey } from '../../src/app/index.js';
import { loadConfig } from '../../src/config/index.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { createTestApp, registerUser, request, type TestApp } from '../../src/testing/index.js';
import { createTestDatabase } from '../../src/testing/services.js';

/**
 * Hardening: instances that share a database must share the access-token signing key. The database records the
 * key's fingerprint (never the key); an instance with another key refuses to start and says how to fix it, and a
 * rotation is a deliberate step (`agentgate signing-key adopt`), not an accident.
 */

const key = (): string => randomBytes(48).toString('base64');
const dirs: string[] = [];
const apps: TestApp[] = [];
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const dataDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-signing-'));
  dirs.push(dir);
  return dir;
};

async function refusal(env: Record<string, string>): Promise<Error> {
  const outcome = await createTestApp(env).then(
    (app) => (apps.push(app), undefined),
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(Error);
  return outcome as Error;
}

describe('hardening: one signing key per database (SQLite)', () => {
  it('a restart with another JWT_SECRET_KEY refuses to start, naming the fix and never the key; after `signing-key adopt` it starts, and the old key is the one refused', async () => {
    const dir = dataDir();
    const [first, second] = [key(), key()];
    const app = await createTestApp({ DATA_DIR: dir, JWT_SECRET_KEY: first });
    const user = await registerUser(app.url, 'rotate');
    await app.close();

    const err = await refusal({ DATA_DIR: dir, JWT_SECRET_KEY: second });
    expect(err.message).toContain('agentgate signing-key adopt');
    expect(err.message).not.toContain(second);
    expect(err.message).not.toContain(first);

    const adopted = await adoptSigningKey(loadConfig({ NODE_ENV: 'test', DATA_DIR: dir, JWT_SECRET_KEY: second }));
    expect(adopted.previous).toBeDefined();
    const rotated = await createTestApp({ DATA_DIR: dir, JWT_SECRET_KEY: second });
    apps.push(rotated);
    // The old key's access token is refused; its refresh token still gets a new one, signed with the new key.
    expect((await request(rotated.url, 'GET', '/auth/me', { token: user.accessToken })).status).toBe(401);
    const refreshed = await request<{ accessToken: string }>(rotated.url, 'POST', '/auth/refresh', {
      body: { refreshToken: user.refreshToken },
    });
    expect(refreshed.status).toBe(200);
    expect((await request(rotated.url, 'GET', '/auth/me', { token: refreshed.body.accessToken })).status).toBe(200);
    await rotated.close();
    apps.pop();
    expect((await refusal({ DATA_DIR: dir, JWT_SECRET_KEY: first })).message).toContain('signing key');
  });
});

describeWithServices(['postgres'], 'hardening: one signing key per database (PostgreSQL)', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    apps.length = 0;
    await database?.drop();
  });

  it('an instance started with another key on the same database refuses to start; one with the same key joins', async () => {
    database = await createTestDatabase();
    const shared = key();
    const env = (secret: string) => ({ DATABASE_URL: database.url, DATA_DIR: dataDir(), JWT_SECRET_KEY: secret });
    const a = await createTestApp(env(shared));
    apps.push(a);
    const err = await refusal(env(key()));
    expect(err.message).toContain('signing key');
    const b = await createTestApp(env(shared));
    apps.push(b);
    // The instances accept each other's tokens.
    const user = await registerUser(a.url, 'shared-key');
    expect((await request(b.url, 'GET', '/auth/me', { token: user.accessToken })).status).toBe(200);
  });
});
