import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
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

describe('the --check-config command', () => {
  const run = promisify(execFile);
  const main = new URL('../src/main.ts', import.meta.url).pathname;
  const tsx = new URL('../node_modules/.bin/tsx', import.meta.url).pathname;
  const check = (env: Record<string, string>) =>
    run(tsx, [main, '--check-config'], { env: { PATH: process.env.PATH ?? '', ...env } }).then(
      ({ stdout }) => ({ code: 0, output: stdout }),
      (err: { code: number; stderr: string }) => ({ code: err.code, output: err.stderr }),
    );

  it('exits 0 for a valid configuration without serving', async () => {
    const result = await check(PROD);
    expect(result).toMatchObject({ code: 0 });
    expect(result.output).toContain('valid');
  });

  it('exits 1 with the reasons for an invalid one', async () => {
    const result = await check({ NODE_ENV: 'production', WEBSOCKET_JWT_SECRET: STRONG });
    expect(result.code).toBe(1);
    expect(result.output).toContain('WEBSOCKET_JWT_SECRET');
    expect(result.output).toContain('JWT_SECRET_KEY');
  });
});
