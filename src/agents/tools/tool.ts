import type { z } from 'zod';
import type { RunContext } from '../context.js';

export interface ToolContext {
  readonly run: RunContext;
  /** Aborted on cancel or timeout; long tools must honour it. */
  readonly signal: AbortSignal;
  /** The call's id in the run's events (`tool_executing`), when a run's AgentIO makes the call. */
  readonly toolCallId?: string | undefined;
}

/** A tool the agent can call. `parameters` validates arguments before `execute` ever sees them. */
export interface Tool<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly description: string;
  readonly parameters: S;
  execute(args: z.output<S>, ctx: ToolContext): Promise<unknown>;
}

/** What a model is told about a tool. */
export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  /** JSON Schema (draft 2020-12) of the arguments. */
  readonly parameters: Record<string, unknown>;
}

/**
 * Tools known only at run time (an MCP server's): listed for model prompts and invoked by name. `invoke` returns
 * every tool problem as an outcome and rethrows only the run's abort.
 */
export interface ToolSource {
  specs(): ToolSpec[];
  has(name: string): boolean;
  invoke(name: string, args: unknown, ctx: ToolContext): Promise<ToolOutcome>;
}

export type ToolErrorCode =
  | 'unknown_tool'
  | 'invalid_arguments'
  | 'tool_failed'
  | 'aborted'
  /** A remote agent's tool call that the agent never reported a result for. */
  | 'tool_result_missing'
  /** An MCP tool answered with `isError`. */
  | 'tool_error'
  /** An MCP tool gave no answer within MCP_TOOL_TIMEOUT_MS. */
  | 'tool_timeout'
  /** The MCP server behind the tool is down, or no process could be started for it. */
  | 'tool_unavailable'
  | 'approval_denied'
  | 'approval_expired'
  /** The run ended while the call waited for approval. */
  | 'cancelled';

export type ToolOutcome =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: { readonly code: ToolErrorCode; readonly message: string } };

/** Helps tools keep their argument types inferred from the schema. */
export function defineTool<S extends z.ZodType>(tool: Tool<S>): Tool<S> {
  return tool;
}
