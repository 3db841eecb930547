import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startApp } from '../src/app/index.js';
import { ConfigError, LEGACY_SECRET_ALIASES, loadConfig, SETTINGS, settingsTable } from '../src/config/index.js';

const STRONG = 'k3y-Material_for-agentgate-tests-0123456789abcdef';
const PROD = { NODE_ENV: 'production', JWT_SECRET_KEY: STRONG, ALLOWED_ORIGINS: 'https://chat.example.com' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('config', () => {
  it('starts on embedded defaults with no environment at all', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      host: '127.0.0.1',
      port: 8080,
      ticketTtlSeconds: 60,
      demoMode: false,
      allowedOrigins: [],
    });
    expect(config.jwt).toMatchObject({ secretKey: undefined, accessTtlSeconds: 900 });
    expect(Object.isFrozen(config) && Object.isFrozen(config.jwt)).toBe(true);
  });

  it.each(LEGACY_SECRET_ALIASES)('refuses to start while the legacy alias %s is set, naming it', (alias) => {
    const found = problems({ [alias]: STRONG, JWT_SECRET_KEY: STRONG });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(alias);
    expect(found[0]).toContain('remove');
  });

  it('accepts a sound production configuration', () => {
    expect(problems(PROD)).toEqual([]);
  });

  it.each([
    ['a missing signing key', { JWT_SECRET_KEY: undefined }, 'JWT_SECRET_KEY'],
    ['a short signing key', { JWT_SECRET_KEY: 'short-secret' }, 'JWT_SECRET_KEY'],
    ['a low-entropy signing key', { JWT_SECRET_KEY: 'a'.repeat(40) }, 'JWT_SECRET_KEY'],
    ['demo mode', { DEMO_MODE: '1' }, 'DEMO_MODE'],
    ['no allowed origins', { ALLOWED_ORIGINS: undefined }, 'ALLOWED_ORIGINS'],
  ])('refuses production with %s, saying how to fix it', (_what, change, variable) => {
    const env = Object.fromEntries(Object.entries({ ...PROD, ...change }).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >;
    const found = problems(env);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(variable);
    expect(found[0]).toMatch(/openssl|unset|ALLOWED_ORIGINS=|generate/);
  });

  it('reports every problem at once', () => {
    const found = problems({ NODE_ENV: 'production', DEMO_MODE: '1', PORT: 'eighty', JWT_SECRET: 'x' });
    expect(found.length).toBeGreaterThanOrEqual(2);
    expect(found.join('\n')).toContain('JWT_SECRET');
    expect(found.join('\n')).toContain('PORT');
  });

  it('refuses malformed values and origins that are not origins', () => {
    expect(problems({ PORT: '70000' })[0]).toContain('PORT');
    expect(problems({ ALLOWED_ORIGINS: 'https://ok.example.com,https://bad.example.com/path' })[0]).toContain(
      'bad.example.com/path',
    );
    expect(
      loadConfig({ ALLOWED_ORIGINS: 'https://a.example.com:443, http://b.example.com:8080' }).allowedOrigins,
    ).toEqual(['https://a.example.com', 'http://b.example.com:8080']);
  });

  it('never echoes the secret in a problem report', () => {
    expect(problems({ JWT_SECRET_KEY: 'tiny-secret-value' }).join('\n')).not.toContain('tiny-secret-value');
  });

  it('documents every setting in docs/CONFIG.md, with its default and doc line (regenerate: npm run docs:config)', () => {
    const doc = readFileSync(new URL('../docs/CONFIG.md', import.meta.url), 'utf8');
    expect(doc).toContain(settingsTable());
    expect(settingsTable().split('\n')).toHaveLength(Object.keys(SETTINGS).length + 2);
  });
});

// Each test starts child processes (tsx, a server): seconds of CPU each, past 30 s in a full run on 2 loaded cores.
describe('config: identity providers', () => {
  it("refuses an external audience that is the OIDC client id (ID tokens would pass as access tokens), and agentgate's own issuer", () => {
    const base = { NODE_ENV: 'test' as const, OIDC_ISSUER: 'http://127.0.0.1:9/idp', OIDC_CLIENT_ID: 'web-app' };
    expect(() =>
      loadConfig({ ...base, EXTERNAL_JWT_ISSUER: 'http://127.0.0.1:9/idp', EXTERNAL_JWT_AUDIENCE: 'web-app' }),
    ).toThrow(/the audience of ID tokens/);
    expect(() =>
      loadConfig({ ...base, EXTERNAL_JWT_ISSUER: 'http://127.0.0.1:9/idp', EXTERNAL_JWT_AUDIENCE: 'https://api' }),
    ).not.toThrow();
    expect(() =>
      loadConfig({
        EXTERNAL_JWT_ISSUER: 'http://127.0.0.1:9/x',
        EXTERNAL_JWT_AUDIENCE: 'api',
        JWT_ISSUER: 'http://127.0.0.1:9/x',
      }),
    ).toThrow(/own JWT_ISSUER/);
    expect(() => loadConfig({ EXTERNAL_JWT_ISSUER: 'http://idp.example.com', EXTERNAL_JWT_AUDIENCE: 'api' })).toThrow(
      /https/,
    );
    expect(() => loadConfig({ OIDC_ISSUER: 'https://idp.example.com' })).toThrow(/OIDC_CLIENT_ID is required/);
  });
});

describe('the --check-config command', { timeout: 90_000 }, () => {
  const run = promisify(execFile);
  const main = new URL('../src/main.ts', import.meta.url).pathname;
  const tsx = new URL('../node_modules/.bin/tsx', import.meta.url).pathname;
  const check = (env: Record<string, string>) =>
    run(tsx, [main, '--check-config'], { env: { PATH: process.env.PATH ?? '', ...env } }).then(
      ({ stdout }) => ({ code: 0, output: stdout }),
      (err: { code: number; stderr: string }) => ({ code: err.code, output: err.stderr }),
    );

  const scratch = mkdtempSync(join(tmpdir(), 'agentgate-check-config-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('exits 0 for a valid configuration without serving', async () => {
    const result = await check({ ...PROD, DATA_DIR: join(scratch, 'valid') });
    expect(result).toMatchObject({ code: 0 });
    expect(result.output).toContain('valid');
  });

  it('exits 1 with the reasons for an invalid one', async () => {
    const result = await check({ NODE_ENV: 'production', WEBSOCKET_JWT_SECRET: STRONG });
    expect(result.code).toBe(1);
    expect(result.output).toContain('WEBSOCKET_JWT_SECRET');
    expect(result.output).toContain('JWT_SECRET_KEY');
  });

  /** `serve` with the same environment: it must refuse what check-config refuses, in the same words. */
  const serve = (env: Record<string, string>) =>
    run(tsx, [main], { env: { PATH: process.env.PATH ?? '', PORT: '0', ...env }, timeout: 30_000 }).then(
      () => ({ code: 0, output: '' }),
      (err: { code: number; stderr: string }) => ({ code: err.code, output: err.stderr }),
    );

  it('refuses what serve refuses on this machine, in the same words: a HOST that cannot be listened on, a DATA_DIR that cannot be written', async () => {
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'not a folder');
    for (const [env, words] of [
      [{ HOST: '999.1.1.1', DATA_DIR: join(scratch, 'host') }, 'HOST=999.1.1.1 cannot be listened on'],
      [{ DATA_DIR: join(file, 'data') }, `cannot be created (${file} is not a folder)`],
    ] as const) {
      const [checked, served] = await Promise.all([check(env), serve(env)]);
      expect({ checked: checked.code, served: served.code }).toEqual({ checked: 1, served: 1 });
      expect(checked.output).toContain(words);
      expect(served.output).toContain(words);
    }
  });

  it('an AGENT_URL nobody answers at is a warning, not a refusal (the agent may start later)', async () => {
    const env = { LLM_PROVIDER: 'agui', AGENT_URL: 'http://127.0.0.1:9/agent', DATA_DIR: join(scratch, 'agui') };
    const result = await run(tsx, [main, '--check-config'], { env: { PATH: process.env.PATH ?? '', ...env } });
    expect(result.stdout).toContain('Configuration is valid');
    expect(result.stderr).toContain('Warning: AGENT_URL=http://127.0.0.1:9 cannot be reached now (ECONNREFUSED)');
  });

  it('an MCP server that fails to start is a warning naming it, never quoting its env; a bad server name refuses', async () => {
    const servers = {
      memory: {
        command: process.execPath,
        args: [
          fileURLToPath(new URL('../node_modules/@modelcontextprotocol/server-memory/dist/index.js', import.meta.url)),
        ],
      },
      broken: { command: '/nonexistent/mcp-server', env: { API_KEY: 'mcp-secret-value' } },
    };
    const file = join(scratch, 'mcp.json');
    writeFileSync(file, JSON.stringify({ mcpServers: servers }));
    const env = { MCP_CONFIG: file, DATA_DIR: join(scratch, 'mcp') };
    const result = await run(tsx, [main, '--check-config'], { env: { PATH: process.env.PATH ?? '', ...env } });
    expect(result.stdout).toContain('Configuration is valid');
    expect(result.stderr).toContain(
      'Warning: MCP server "broken" failed to start: spawn /nonexistent/mcp-server ENOENT',
    );
    expect(result.stderr).not.toContain('"memory"');
    expect(result.stderr + result.stdout).not.toContain('mcp-secret-value');

    writeFileSync(
      file,
      JSON.stringify({ mcpServers: { 'bad name': { command: 'x', env: { K: 'mcp-secret-value' } } } }),
    );
    const refused = await check(env);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('MCP_CONFIG server "bad name": the name must be 1-32 letters');
    expect(refused.output).not.toContain('mcp-secret-value');
  });

  it('without JWT_SECRET_KEY it compares the key in DATA_DIR with the recorded one, as serve does (issue 20.11)', async () => {
    const dataDir = join(scratch, 'dev-key');
    const env = { DATA_DIR: dataDir };
    // A server ran here: the database records its development key.
    const first = await startApp(loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', ...env }));
    await first.stop();
    expect(await check(env)).toMatchObject({ code: 0 });
    // The key file is lost: serve would make a new key, which is not the recorded one.
    unlinkSync(join(dataDir, 'jwt-signing-key.json'));
    const checked = await check(env);
    expect(checked.code).toBe(1);
    expect(checked.output).toContain('not the signing key recorded in the database');
    const served = await serve(env);
    expect(served.code).not.toBe(0);
    expect(served.output).toContain('signing key');
  });

  it('a PORT in use: serve exits 70 saying which port and to set PORT=; check-config only warns', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const env = { PORT: String(port), DATA_DIR: join(scratch, 'port-in-use') };
      const served = await serve(env);
      expect(served.code).toBe(70);
      expect(served.output).toContain(`port ${port} on 127.0.0.1 is in use. Set PORT=<another port>`);
      const checked = await check(env);
      expect(checked.code).toBe(0);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});
