export { raceAbort } from './abort.js';
export type { Agent, AgentIO, AgentRequest, AgentResult, HistoryMessage } from './agent.js';
export { createRunContext } from './context.js';
export type { RunContext } from './context.js';
export { OfflineAgent } from './builtin/offline-agent.js';
export { planIntents } from './builtin/intents.js';
export type { Intent } from './builtin/intents.js';
export {
  builtinTools,
  calculate,
  calculatorTool,
  preloadCalculator,
  clockTool,
  createClockTool,
  createDocsSearchTool,
  defineTool,
  sleep,
  timeIn,
  ToolRegistry,
  waitTool,
} from './tools/index.js';
export type {
  BuiltinToolsOptions,
  CalculatorResult,
  ClockOptions,
  ClockResult,
  DocsSearchHit,
  Tool,
  ToolContext,
  ToolErrorCode,
  ToolOutcome,
  ToolSpec,
} from './tools/index.js';
export {
  AnthropicProvider,
  ANTHROPIC_DEFAULT_BASE_URL,
  createLlmAgent,
  DEFAULT_SYSTEM_PROMPT,
  hourBucketOf,
  LlmAgent,
  OpenAiProvider,
  OPENAI_DEFAULT_BASE_URL,
  TokenBudget,
} from './providers/index.js';
export type {
  ConversationTurn,
  FinishReason,
  LlmAgentDeps,
  LlmAgentOptions,
  LlmProvider,
  LlmSettings,
  ModelReasoning,
  ModelToolCall,
  ModelToolResult,
  ProviderLogger,
  ProviderSettings,
  StepRequest,
  StepResult,
  StepSink,
  TokenBudgetSettings,
  TokenUsageStore,
} from './providers/index.js';
