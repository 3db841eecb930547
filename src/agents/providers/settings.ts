import type { TokenBudgetSettings } from './token-budget.js';

/** What one provider client needs. */
export interface ProviderSettings {
  /** Unset: the provider's public API. */
  readonly baseUrl: string | undefined;
  /** Secret: handed to the SDK only, never logged or put in an error. */
  readonly apiKey: string | undefined;
  readonly model: string;
  /** Per attempt, up to the response headers; then the longest quiet time inside a stream. */
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly maxOutputTokens: number;
  /** Anthropic extended thinking budget; 0 is off. */
  readonly thinkingBudgetTokens: number;
}

/** The `llm` part of the config (LLM_* settings; see docs/CONFIG.md and docs/AGENTS.md). */
export interface LlmSettings extends Omit<ProviderSettings, 'model'> {
  readonly provider: 'offline' | 'openai' | 'anthropic';
  /** Required by config for openai and anthropic. */
  readonly model: string | undefined;
  /** Unset: DEFAULT_SYSTEM_PROMPT. */
  readonly systemPrompt: string | undefined;
  readonly maxSteps: number;
  readonly tokenBudget: TokenBudgetSettings;
}
