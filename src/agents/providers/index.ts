import { AnthropicProvider } from './anthropic/anthropic-provider.js';
import { LlmAgent } from './llm-agent.js';
import { OpenAiProvider } from './openai/openai-provider.js';
import type { LlmSettings } from './settings.js';
import { TokenBudget, type TokenUsageStore } from './token-budget.js';
import type { ProviderLogger } from './transport.js';

export interface LlmAgentDeps {
  /** Where token usage is counted (the per-user budget reads it back). */
  readonly usage: TokenUsageStore;
  readonly logger?: ProviderLogger | undefined;
  readonly now?: (() => number) | undefined;
}

/**
 * The agent LLM_PROVIDER names, for `openai` and `anthropic` (`offline` is the built-in agent, not built here), with
 * its SDK loaded: only the provider configured loads one, at start-up rather than on the first run.
 */
export async function createLlmAgent(settings: LlmSettings, deps: LlmAgentDeps): Promise<LlmAgent> {
  if (settings.provider === 'offline' || settings.model === undefined)
    throw new TypeError('createLlmAgent needs LLM_PROVIDER openai or anthropic, and LLM_MODEL.');
  const providerSettings = { ...settings, model: settings.model };
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
  });
}

export { AnthropicProvider } from './anthropic/anthropic-provider.js';
export { LlmAgent } from './llm-agent.js';
export { OpenAiProvider } from './openai/openai-provider.js';
export type { LlmProvider } from './provider.js';
export type { ProviderSettings } from './settings.js';
export { hourBucketOf, TokenBudget } from './token-budget.js';
export type { TokenUsageStore } from './token-budget.js';
