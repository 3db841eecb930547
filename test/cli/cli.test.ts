import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentgateClient } from '../../src/client/node.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { createTestApp, request, type TestApp } from '../../src/testing/index.js';
import { createTestDatabase, TEST_REDIS_URL, testRedisPrefix } from '../../src/testing/services.js';
import { cli } from './helpers.js';

const PASSWORD = 'correct horse battery';
const COMMANDS = ['serve', 'check-config', 'migrate', 'user', 'signing-key', 'token', 'chat'];

describe('CLI: help, usage errors, configuration', () => {
  it('--help everywhere exits 0 with usage and exit codes; unknown commands and options exit 2', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    for (const command of COMMANDS) expect(top.stdout).toContain(command);
    for (const command of COMMANDS) {
      const help = await cli([command, '--help']);
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toMatch(/^Usage: agentgate /);
      expect(help.stdout, command).toContain('Exit codes: 0 ok, 1 failure, 2 usage error');
    }
    expect((await cli(['user', 'create', '--help'])).code).toBe(0);

    const unknown = await cli(['frobnicate']);
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const badOption = await cli(['token', '--pasword', 'x']);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain('Usage: agentgate token');
    expect((await cli(['user'])).code).toBe(2);
    expect((await cli(['user', 'rename'])).code).toBe(2);
    expect((await cli(['token', '--email', 'a@example.com', '--demo'])).code).toBe(2);
  });

  it('check-config (and the old --check-config) report valid and invalid configurations', async () => {
    const ok = await cli(['check-config'], { env: { DATA_DIR: '/nonexistent/agentgate' } });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Configuration is valid');
    expect((await cli(['--check-config'], { env: { DATA_DIR: '/nonexistent/agentgate' } })).code).toBe(0);
    const strict = await cli(['check-config'], { env: { NODE_ENV: 'production' } });
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('JWT_SECRET_KEY');
  });

  it('check-config compares JWT_SECRET_KEY with the key recorded in the database; signing-key adopt rotates it on purpose', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentgate-cli-key-'));
    const [first, second] = [randomBytes(48).toString('base64'), randomBytes(48).toString('base64')];
    try {
      const app = await createTestApp({ DATA_DIR: dataDir, JWT_SECRET_KEY: first });
      await app.close();
      const same = await cli(['check-config'], { env: { DATA_DIR: dataDir, JWT_SECRET_KEY: first } });
      expect(same.code).toBe(0);
      expect(same.stdout).toContain('(the recorded key)');
      const other = await cli(['check-config'], { env: { DATA_DIR: dataDir, JWT_SECRET_KEY: second } });
      expect(other.code).toBe(1);
      expect(other.stderr).toContain('signing-key adopt');
      expect(other.stderr).not.toContain(second);
      const adopt = await cli(['signing-key', 'adopt'], { env: { DATA_DIR: dataDir, JWT_SECRET_KEY: second } });
      expect(adopt.code).toBe(0);
      expect(adopt.stdout).toContain('Adopted the configured signing key');
      expect((await cli(['check-config'], { env: { DATA_DIR: dataDir, JWT_SECRET_KEY: second } })).code).toBe(0);
      expect((await cli(['check-config'], { env: { DATA_DIR: dataDir, JWT_SECRET_KEY: first } })).code).toBe(1);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('migrate applies the schema once, then has nothing to do', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentgate-cli-'));
    try {
      const first = await cli(['migrate'], { env: { DATA_DIR: dataDir } });
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/^Applied \d+ migrations: 001-initial, /);
      const again = await cli(['migrate'], { env: { DATA_DIR: dataDir } });
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/^No pending migrations\./);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('CLI: user administration and token, against a running server', () => {
  let app: TestApp;
  let dataDir: string;
  const env = (): Record<string, string> => ({ DATA_DIR: dataDir, ADMIN_EMAILS: 'root@example.com' });
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'agentgate-cli-'));
    app = await createTestApp({ DATA_DIR: dataDir });
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('user create / list; token prints only an access token that works as Bearer; disable refuses it at once; enable', async () => {
    const created = await cli(
      ['user', 'create', '--email', 'Root@Example.com', '--display-name', 'Root', '--password-stdin'],
      { env: env(), stdin: `${PASSWORD}\n` },
    );
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toMatch(/^Created user Root@Example\.com \(id [0-9a-f-]{36}\)\.\n$/);
    expect(
      (
        await cli(['user', 'create', '--email', 'root@example.com', '--password-stdin'], {
          env: env(),
          stdin: `${PASSWORD}\n`,
        })
      ).code,
    ).toBe(4);
    expect(
      (
        await cli(['user', 'create', '--email', 'short@example.com', '--password-stdin'], {
          env: env(),
          stdin: 'short\n',
        })
      ).code,
    ).toBe(2);
    expect(
      (await cli(['user', 'create', '--email', 'nostdin@example.com'], { env: env(), stdin: `${PASSWORD}\n` })).code,
    ).toBe(2);

    const listed = await cli(['user', 'list', '--json'], { env: env() });
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({
        email: 'Root@Example.com',
        displayName: 'Root',
        isAdmin: true,
        isDemo: false,
        disabledAt: null,
      }),
    ]);
    expect(listed.stdout).not.toMatch(/hash|argon/i);
    expect((await cli(['user', 'list'], { env: env() })).stdout).toMatch(
      /^EMAIL +NAME +FLAGS +CREATED +ID\nRoot@Example\.com +Root +admin /,
    );

    const fromEnv = await cli(['token', '--url', app.url, '--email', 'root@example.com'], {
      env: { AGENTGATE_PASSWORD: PASSWORD },
    });
    expect(fromEnv).toMatchObject({ code: 0, stderr: '' });
    expect(fromEnv.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const token = fromEnv.stdout.trim();
    expect(await request(app.url, 'GET', '/auth/me', { token })).toMatchObject({
      status: 200,
      body: { user: { email: 'Root@Example.com' } },
    });
    const fromStdin = await cli(['token', '--url', app.url], {
      env: { AGENTGATE_EMAIL: 'root@example.com' },
      stdin: `${PASSWORD}\n`,
    });
    expect(fromStdin.code).toBe(0);
    const wrong = await cli(['token', '--url', app.url, '--email', 'root@example.com'], {
      stdin: 'not the password\n',
    });
    expect(wrong).toMatchObject({ code: 3, stdout: '' });
    expect(wrong.stderr).toContain('invalid_credentials');
    expect(
      (await cli(['token', '--url', 'http://127.0.0.1:1', '--email', 'root@example.com'], { stdin: `${PASSWORD}\n` }))
        .code,
    ).toBe(1);

    const disabled = await cli(['user', 'disable', '--email', 'ROOT@example.com'], { env: env() });
    expect(disabled.code).toBe(0);
    expect(disabled.stdout).toContain('Disabled Root@Example.com: 2 sessions revoked.');
    expect((await request(app.url, 'GET', '/auth/me', { token })).body).toMatchObject({
      error: { code: 'invalid_token' },
    });
    expect(
      (await cli(['token', '--url', app.url, '--email', 'root@example.com'], { stdin: `${PASSWORD}\n` })).code,
    ).toBe(3);
    expect(JSON.parse((await cli(['user', 'list', '--json'], { env: env() })).stdout)).toEqual([
      expect.objectContaining({ disabledAt: expect.any(String) }),
    ]);

    expect((await cli(['user', 'enable', '--email', 'root@example.com'], { env: env() })).code).toBe(0);
    expect(
      (await cli(['token', '--url', app.url, '--email', 'root@example.com'], { stdin: `${PASSWORD}\n` })).code,
    ).toBe(0);
    expect((await cli(['user', 'disable', '--email', 'ghost@example.com'], { env: env() })).code).toBe(4);
  });
});

describeWithServices(['postgres', 'redis'], 'CLI: user disable with PostgreSQL and Redis', () => {
  let app: TestApp;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  beforeAll(async () => {
    database = await createTestDatabase();
    env = {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL ?? '',
      REDIS_KEY_PREFIX: testRedisPrefix(),
      JWT_SECRET_KEY: randomBytes(48).toString('base64'),
    };
    app = await createTestApp(env);
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it("tells the running servers: the user's open WebSocket closes 1008 session revoked at once", async () => {
    expect(
      (
        await cli(['user', 'create', '--email', 'live@example.com', '--password-stdin'], {
          env,
          stdin: `${PASSWORD}\n`,
        })
      ).code,
    ).toBe(0);
    const client = new AgentgateClient({ baseUrl: app.url });
    await client.login('live@example.com', PASSWORD);
    await client.connect();
    const closed = new Promise((resolve) =>
      client.onStateChange((state, detail) => state === 'closed' && resolve(detail)),
    );
    const disabled = await cli(['user', 'disable', '--email', 'live@example.com'], { env });
    expect(disabled.code).toBe(0);
    expect(disabled.stdout).toContain('Disabled live@example.com: 1 session revoked.');
    expect(disabled.stdout).toContain('Running servers were told to close its WebSockets.');
    expect(await closed).toMatchObject({ closeCode: 1008, error: { code: 'session_revoked' } });
  });
});
