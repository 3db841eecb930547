import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/index.js';

/** The LLM_* settings: defaults, what they need together, and the key never echoed. */
const KEY = 'sk-config-test-SECRET-value';
const PROD = {
  NODE_ENV: 'production',
  JWT_SECRET_KEY: 'k3y-Material_for-agentgate-tests-0123456789abcdef',
  ALLOWED_ORIGINS: 'https://chat.example.com',
};

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}

describe('LLM settings', () => {
  it('default to the offline agent, with the documented limits', () => {
    expect(loadConfig({}).llm).toEqual({
      provider: 'offline',
      baseUrl: undefined,
      apiKey: undefined,
      model: undefined,
      systemPrompt: undefined,
      maxSteps: 8,
      maxOutputTokens: 4096,
      thinkingBudgetTokens: 0,
      timeoutMs: 60_000,
      maxRetries: 2,
      tokenBudget: { perUser: 0, windowHours: 24 },
    });
  });

  it('accept an OpenAI-compatible self-hosted server without a key, and drop trailing slashes', () => {
    const llm = loadConfig({
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: 'http://127.0.0.1:11434/v1/',
      LLM_MODEL: 'qwen2.5:7b',
    }).llm;
    expect(llm).toMatchObject({
      provider: 'openai',
      baseUrl: 'http://127.0.0.1:11434/v1',
      apiKey: undefined,
      model: 'qwen2.5:7b',
    });
  });

  it.each([
    ['openai without a model', { LLM_PROVIDER: 'openai', LLM_API_KEY: KEY }, 'LLM_MODEL'],
    ['openai at api.openai.com without a key', { LLM_PROVIDER: 'openai', LLM_MODEL: 'gpt-4o-mini' }, 'LLM_API_KEY'],
    [
      'anthropic without a key',
      { LLM_PROVIDER: 'anthropic', LLM_MODEL: 'claude-x', LLM_BASE_URL: 'https://proxy.example.com' },
      'LLM_API_KEY',
    ],
    [
      'a base URL with credentials',
      { LLM_PROVIDER: 'openai', LLM_MODEL: 'm', LLM_BASE_URL: 'https://user:pw@llm.example.com/v1' },
      'LLM_BASE_URL',
    ],
    [
      'a thinking budget below 1024',
      { LLM_PROVIDER: 'anthropic', LLM_MODEL: 'm', LLM_API_KEY: KEY, LLM_THINKING_BUDGET_TOKENS: '500' },
      'LLM_THINKING_BUDGET_TOKENS',
    ],
    [
      'a thinking budget not below the output limit',
      { LLM_PROVIDER: 'anthropic', LLM_MODEL: 'm', LLM_API_KEY: KEY, LLM_THINKING_BUDGET_TOKENS: '4096' },
      'LLM_THINKING_BUDGET_TOKENS',
    ],
    ['an unknown provider', { LLM_PROVIDER: 'gemini' }, 'LLM_PROVIDER'],
  ])('refuse %s, naming the setting', (_what, env, setting) => {
    const found = problems(env);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(setting);
  });

  it('ignore the other LLM_* settings for the offline agent', () => {
    expect(problems({ LLM_PROVIDER: 'offline', LLM_THINKING_BUDGET_TOKENS: '5' })).toEqual([]);
  });

  it('in production, refuse sending the key over plain http to another host, but allow loopback and keyless servers', () => {
    const openaiAt = (url: string, key?: string): Record<string, string> => ({
      ...PROD,
      LLM_PROVIDER: 'openai',
      LLM_MODEL: 'm',
      LLM_BASE_URL: url,
      ...(key ? { LLM_API_KEY: key } : {}),
    });
    expect(problems(openaiAt('http://llm.internal:8000/v1', KEY)).join('\n')).toContain('LLM_BASE_URL');
    expect(problems(openaiAt('http://127.0.0.1:8000/v1', KEY))).toEqual([]);
    expect(problems(openaiAt('http://vllm.internal:8000/v1'))).toEqual([]);
    expect(problems(openaiAt('https://llm.example.com/v1', KEY))).toEqual([]);
    expect(problems({ ...openaiAt('http://llm.internal:8000/v1', KEY), NODE_ENV: 'development' })).toEqual([]);
  });

  it('never echo the key or the base URL in a problem report', () => {
    const report = problems({
      LLM_PROVIDER: 'openai',
      LLM_API_KEY: KEY,
      LLM_BASE_URL: `ftp://${KEY}@host`,
      LLM_MAX_STEPS: '0',
    }).join('\n');
    expect(report).toContain('LLM_BASE_URL');
    expect(report).not.toContain(KEY);
  });
});

describe('LLM_PROVIDER=agui settings (AGENT_*)', () => {
  const ED25519_PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const P256_PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const RSA_PEM = generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();

  it('need AGENT_URL, take the audience from its origin by default, and AGENT_TIMEOUT_MS of at least 1000', () => {
    expect(problems({ LLM_PROVIDER: 'agui' })).toEqual([expect.stringContaining('AGENT_URL is required')]);
    expect(loadConfig({ LLM_PROVIDER: 'agui', AGENT_URL: 'http://127.0.0.1:8000/agent/run' }).agui).toEqual({
      url: 'http://127.0.0.1:8000/agent/run',
      audience: 'http://127.0.0.1:8000',
      timeoutMs: 60_000,
      signingKeyPem: undefined,
    });
    expect(
      loadConfig({ LLM_PROVIDER: 'agui', AGENT_URL: 'https://a.example/x', AGENT_AUDIENCE: 'my-agent' }).agui?.audience,
    ).toBe('my-agent');
    expect(problems({ LLM_PROVIDER: 'agui', AGENT_URL: 'https://a.example/x', AGENT_TIMEOUT_MS: '999' })).toEqual([
      expect.stringContaining('AGENT_TIMEOUT_MS'),
    ]);
    expect(loadConfig({ LLM_PROVIDER: 'openai', LLM_BASE_URL: 'http://127.0.0.1:1/v1', LLM_MODEL: 'm' }).agui).toBe(
      undefined,
    );
  });

  it('refuse in production plain http:// to another host (the agent token would travel in clear), not to loopback', () => {
    const agui = { ...PROD, LLM_PROVIDER: 'agui', AGENT_SIGNING_KEY: ED25519_PEM };
    expect(problems({ ...agui, AGENT_URL: 'http://agent.internal:8000/run' })).toEqual([
      expect.stringContaining('AGENT_URL is http:// to another host'),
    ]);
    expect(problems({ ...agui, AGENT_URL: 'http://127.0.0.1:8000/run' })).toEqual([]);
    expect(problems({ ...agui, AGENT_URL: 'https://agent.internal/run' })).toEqual([]);
    expect(problems({ ...agui, AGENT_URL: 'https://user:pw@agent.internal/run' })).toEqual([
      expect.stringContaining('must not carry credentials'),
    ]);
  });

  it('take an Ed25519 or P-256 AGENT_SIGNING_KEY, require one with REDIS_URL, and never echo it', () => {
    const base = { LLM_PROVIDER: 'agui', AGENT_URL: 'http://127.0.0.1:8000/run' };
    expect(problems({ ...base, AGENT_SIGNING_KEY: ED25519_PEM })).toEqual([]);
    expect(problems({ ...base, AGENT_SIGNING_KEY: P256_PEM })).toEqual([]);
    const rsa = problems({ ...base, AGENT_SIGNING_KEY: RSA_PEM });
    expect(rsa).toEqual([expect.stringContaining('use Ed25519 or P-256')]);
    const garbage = problems({ ...base, AGENT_SIGNING_KEY: 'not-a-key-SECRET' });
    expect(garbage).toEqual([expect.stringContaining('not a private key in PEM')]);
    expect(garbage.join(' ')).not.toContain('not-a-key-SECRET');
    const cluster = {
      ...base,
      REDIS_URL: 'redis://127.0.0.1:6379',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      JWT_SECRET_KEY: PROD.JWT_SECRET_KEY,
    };
    expect(problems(cluster)).toEqual([
      expect.stringContaining('AGENT_SIGNING_KEY is required with LLM_PROVIDER=agui and REDIS_URL'),
    ]);
    expect(problems({ ...cluster, AGENT_SIGNING_KEY: P256_PEM })).toEqual([]);
  });
});
