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
