export { raceAbort } from './abort.js';
export type { Agent, AgentIO, AgentRequest, AgentResult, HistoryMessage } from './agent.js';
export { createRunContext } from './context.js';
export type { RunContext } from './context.js';
export { OfflineAgent } from './builtin/offline-agent.js';
export { AguiAgent } from './agui/index.js';
export type { AguiAgentDeps, AguiAgentSettings } from './agui/index.js';
export { planIntents } from './builtin/intents.js';
export {
  builtinTools,
  calculatorTool,
  clockTool,
  createClockTool,
  createDocsSearchTool,
  defineTool,
  sleep,
  ToolRegistry,
  waitTool,
} from './tools/index.js';
export type {
  DocsSearchHit,
  Tool,
  ToolContext,
  ToolErrorCode,
  ToolOutcome,
  ToolSource,
  ToolSpec,
} from './tools/index.js';
export {
  AnthropicProvider,
  createLlmAgent,
  hourBucketOf,
  LlmAgent,
  OpenAiProvider,
  TokenBudget,
} from './providers/index.js';
export type { LlmProvider, ProviderSettings, TokenUsageStore } from './providers/index.js';
