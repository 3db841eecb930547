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
