import { AnthropicProvider } from './anthropic/anthropic-provider.js';
import { LlmAgent } from './llm-agent.js';
import { OpenAiProvider } from './openai/openai-provider.js';
import type { LlmSettings } from './settings.js';
import { TokenBudget, type TokenUsageStore } from './token-budget.js';
import type { ProviderLogger } from './transport.js';
import type { Tracing } from '../../telemetry/index.js';

/** Where each provider sends requests when LLM_BASE_URL is unset: for the `server.address` of model spans. */
const DEFAULT_HOSTS = { openai: 'api.openai.com', anthropic: 'api.anthropic.com' } as const;

export interface LlmAgentDeps {
  /** Where token usage is counted (the per-user budget reads it back). */
  readonly usage: TokenUsageStore;
  readonly logger?: ProviderLogger | undefined;
  readonly now?: (() => number) | undefined;
  /** Spans of model calls (OTEL_EXPORTER_OTLP_ENDPOINT); omitted: none. */
  readonly tracing?: Tracing | undefined;
}

/**
 * The agent LLM_PROVIDER names, for `openai` and `anthropic` (`offline` is the built-in agent, not built here), with
 * its SDK loaded: only the provider configured loads one, at start-up rather than on the first run.
 */
export async function createLlmAgent(settings: LlmSettings, deps: LlmAgentDeps): Promise<LlmAgent> {
  if (settings.provider === 'offline' || settings.model === undefined)
    throw new TypeError('createLlmAgent needs LLM_PROVIDER openai or anthropic, and LLM_MODEL.');
  const providerSettings = { ...settings, model: settings.model };
  const spanAttributes = serverOf(settings.provider, settings);
  const provider =
    settings.provider === 'openai'
      ? new OpenAiProvider(providerSettings, deps.logger)
      : new AnthropicProvider(providerSettings, deps.logger);
  await provider.load();
  return new LlmAgent({
    provider,
    systemPrompt: settings.systemPrompt,
    maxSteps: settings.maxSteps,
    budget: new TokenBudget(deps.usage, settings.tokenBudget, deps.now),
    logger: deps.logger,
    tracing: deps.tracing,
    spanAttributes,
  });
}

export { AnthropicProvider } from './anthropic/anthropic-provider.js';
export { LlmAgent } from './llm-agent.js';
export { OpenAiProvider } from './openai/openai-provider.js';
export type { LlmProvider } from './provider.js';
export type { ProviderSettings } from './settings.js';
export { hourBucketOf, TokenBudget } from './token-budget.js';
export type { TokenUsageStore } from './token-budget.js';

/** `server.address` and `server.port` of the model API, and the output limit, as GenAI spans name them. */
function serverOf(provider: 'openai' | 'anthropic', settings: LlmSettings): Record<string, string | number> {
  const url = new URL(settings.baseUrl ?? `https://${DEFAULT_HOSTS[provider]}`);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return { 'server.address': url.hostname, 'server.port': port, 'gen_ai.request.max_tokens': settings.maxOutputTokens };
}
