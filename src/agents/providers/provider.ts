import type { Usage } from '../../protocol/index.js';
import type { ToolSpec } from '../tools/tool.js';

/** A tool call as the model wrote it. `argumentsText` is raw: it may not even be JSON. */
export interface ModelToolCall {
  /** The provider's id for the call, echoed back with its result. */
  readonly id: string;
  readonly name: string;
  readonly argumentsText: string;
}

/**
 * Reasoning the model showed. Anthropic needs its thinking blocks sent back unchanged (with their signature) when
 * the conversation goes on after a tool call; OpenAI-compatible servers must not get theirs back.
 */
export interface ModelReasoning {
  readonly text: string;
  readonly signature?: string;
  /** An encrypted block the model did not show (Anthropic `redacted_thinking`). */
  readonly redactedData?: string;
}

export interface ModelToolResult {
  readonly toolCallId: string;
  readonly name: string;
  /** What the model reads: JSON of `{result}` or `{error: {code, message}}`. */
  readonly content: string;
  readonly isError: boolean;
}

/** The conversation in a provider-neutral form; each provider turns it into its own wire format. */
export type ConversationTurn =
  | { readonly role: 'user'; readonly text: string }
  | {
      readonly role: 'assistant';
      readonly text: string;
      readonly reasoning: readonly ModelReasoning[];
      readonly toolCalls: readonly ModelToolCall[];
    }
  | { readonly role: 'tool_results'; readonly results: readonly ModelToolResult[] };

export interface StepRequest {
  readonly system: string;
  readonly turns: readonly ConversationTurn[];
  readonly tools: readonly ToolSpec[];
  /** Aborts the HTTP request: a cancelled run must not keep the model busy. */
  readonly signal: AbortSignal;
}

/** Where a provider reports a step while it streams. */
export interface StepSink {
  text(delta: string): void;
  reasoning(delta: string): void;
  /** The step's usage so far, cumulative: reported as soon as known, so a step that fails later still counts. */
  usage(total: Usage): void;
}

export type FinishReason = 'stop' | 'tool_calls' | 'length' | 'other';

export interface StepResult {
  readonly text: string;
  readonly reasoning: readonly ModelReasoning[];
  readonly toolCalls: readonly ModelToolCall[];
  readonly usage: Usage;
  readonly finish: FinishReason;
}

/**
 * One language-model API: streams one step of the conversation (one HTTP request, retried by the SDK on
 * connection errors, 408/409/429 and 5xx). Failures are thrown as AppError with an `llm_*` code; an abort of
 * `request.signal` is thrown as the signal's reason.
 */
export interface LlmProvider {
  /** `openai` or `anthropic`. */
  readonly kind: string;
  readonly model: string;
  streamStep(request: StepRequest, sink: StepSink): Promise<StepResult>;
}
