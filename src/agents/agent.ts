import type { AguiEventPayload, Usage } from '../protocol/index.js';
import type { RunContext } from './context.js';
import type { ToolOutcome, ToolSpec } from './tools/tool.js';

/** A previous message of the thread, oldest first. */
export interface HistoryMessage {
  readonly id: string;
  readonly role: 'user' | 'assistant';
  readonly text: string;
}

export interface AgentRequest {
  readonly context: RunContext;
  /** The user's new message. */
  readonly text: string;
  /** The id the user's new message is stored under. */
  readonly messageId: string;
  /** The thread before this message, oldest first. */
  readonly history: readonly HistoryMessage[];
  /** The thread's state from its last run (agents with `usesThreadState`), undefined when it has none. */
  readonly state?: unknown;
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
  /**
   * A tool call the agent runs itself (a remote AG-UI agent's own tools): `tool_executing` under the agent's id
   * now, `tool_completed` at toolFinished. Not limited by RUN_MAX_TOOL_CALLS (those are the server's tools). A call
   * left open when the run ends is closed by the run.
   */
  toolStarted(toolCallId: string, tool: string, args: unknown): void;
  /** False when that call is not open (never started, already finished, or the run ended). */
  toolFinished(toolCallId: string, outcome: ToolOutcome): boolean;
  /** An AG-UI event with no run event of its own: stored and delivered as `agui_event`. */
  aguiEvent(event: AguiEventPayload): void;
  /** The thread's state as the agent now has it: stored with the thread when the run ends, and given to its next run. */
  stateChanged(state: unknown): void;
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
  /** The agent keeps state per thread (AG-UI agents): the run reads it first and stores what the agent reports. */
  readonly usesThreadState?: boolean;
  run(request: AgentRequest, io: AgentIO): Promise<AgentResult>;
}
