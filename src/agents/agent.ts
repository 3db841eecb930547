import type { Usage } from '../protocol/index.js';
import type { RunContext } from './context.js';
import type { ToolOutcome, ToolSpec } from './tools/tool.js';

/** A previous message of the thread, oldest first. */
export interface HistoryMessage {
  readonly role: 'user' | 'assistant';
  readonly text: string;
}

export interface AgentRequest {
  readonly context: RunContext;
  /** The user's new message. */
  readonly text: string;
  /** The thread before this message, oldest first. */
  readonly history: readonly HistoryMessage[];
  /** Aborted when the run is cancelled or times out; agents must stop promptly and may simply throw. */
  readonly signal: AbortSignal;
}

/**
 * What an agent may do while it works. Each call becomes a run event, stamped and persisted by the run manager.
 * Calls after the run has ended are ignored.
 */
export interface AgentIO {
  /** Visible planning or reasoning: `agent_thinking`. */
  think(text: string): void;
  /** A streamed piece of the answer: `agent_message_delta`. */
  delta(text: string): void;
  /**
   * Runs a registered tool: emits `tool_executing`, validates `args` against the tool's schema, executes it with
   * the run's AbortSignal, emits `tool_completed` (result or error, durationMs). Never throws for tool failures
   * (they come back as `{ok:false}` so the agent can recover); throws AppError `tool_limit_exceeded` past the
   * run's tool-call limit and rethrows when the run was aborted.
   */
  callTool(name: string, args: unknown): Promise<ToolOutcome>;
  /** The tools this agent may call, with JSON Schemas for model prompts. */
  readonly tools: readonly ToolSpec[];
}

export interface AgentResult {
  /** The whole answer (the concatenation of what was streamed, or the full text if nothing was). */
  readonly text: string;
  readonly usage?: Usage;
}

/** The one interface the built-in agent and every LLM provider implement. */
export interface Agent {
  readonly name: string;
  run(request: AgentRequest, io: AgentIO): Promise<AgentResult>;
}
