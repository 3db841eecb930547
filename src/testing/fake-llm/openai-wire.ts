import { errorBody, type FakeReply } from './fake-llm-server.js';

interface OpenAiToolCallScript {
  readonly id: string;
  readonly name: string;
  /** The `function.arguments` fragments, in order: split them anywhere, as the API does. */
  readonly argumentChunks: readonly string[];
}

export interface OpenAiStreamScript {
  /** Reasoning deltas, as vLLM, DeepSeek and llama.cpp send them (`reasoning_content`) or Ollama (`reasoning`). */
  readonly reasoning?: readonly string[];
  readonly reasoningField?: 'reasoning_content' | 'reasoning';
  readonly text?: readonly string[];
  readonly toolCalls?: readonly OpenAiToolCallScript[];
  /** Default: `tool_calls` when there are tool calls, else `stop`. `null` leaves the finish chunk out. */
  readonly finish?: 'stop' | 'tool_calls' | 'length' | null;
  /** The final usage chunk (`stream_options.include_usage`); null leaves it out. */
  readonly usage?: { readonly prompt: number; readonly completion: number } | null;
  /** End with `data: [DONE]` (default true). */
  readonly done?: boolean;
  readonly model?: string;
}

/**
 * A Chat Completions stream exactly as OpenAI sends it: `data: {chat.completion.chunk}` events, a first delta with
 * the role, tool calls whose first fragment carries `id`, `type` and `name` and whose arguments follow as
 * fragments keyed by `index`, a chunk with `finish_reason`, a usage chunk with empty `choices`, then `data: [DONE]`.
 */
function openAiStream(script: OpenAiStreamScript): string {
  const model = script.model ?? 'gpt-fake';
  const envelope = (choices: unknown[], usage: unknown = null): string =>
    `data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1_700_000_000, model, system_fingerprint: 'fp_fake', choices, usage })}\n\n`;
  const choice = (delta: unknown, finish: string | null = null): unknown => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: finish,
  });
  const calls = script.toolCalls ?? [];
  const field = script.reasoningField ?? 'reasoning_content';
  let body = envelope([
    choice({ role: 'assistant', content: calls.length > 0 && !script.text ? null : '', refusal: null }),
  ]);
  for (const piece of script.reasoning ?? []) body += envelope([choice({ [field]: piece })]);
  for (const piece of script.text ?? []) body += envelope([choice({ content: piece })]);
  calls.forEach((call, index) => {
    body += envelope([
      choice({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }),
    ]);
    for (const fragment of call.argumentChunks)
      body += envelope([choice({ tool_calls: [{ index, function: { arguments: fragment } }] })]);
  });
  const finish = script.finish === undefined ? (calls.length > 0 ? 'tool_calls' : 'stop') : script.finish;
  if (finish !== null) body += envelope([choice({}, finish)]);
  const usage = script.usage === undefined ? { prompt: 11, completion: 7 } : script.usage;
  if (usage !== null) {
    body += envelope([], {
      prompt_tokens: usage.prompt,
      completion_tokens: usage.completion,
      total_tokens: usage.prompt + usage.completion,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    });
  }
  if (script.done !== false) body += 'data: [DONE]\n\n';
  return body;
}

/** A stream reply, optionally cut at awkward places or stalled. */
export function openAiReply(
  script: OpenAiStreamScript,
  options: { split?: 'awkward' | number; stallAfterBytes?: number } = {},
): FakeReply {
  return { kind: 'stream', body: openAiStream(script), ...options };
}

/** An HTTP error as OpenAI answers it (`{error: {message, type, param, code}}`). */
export function openAiError(
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): FakeReply {
  return { kind: 'error', status, body: errorBody('openai', type, message), headers };
}

/** The model calls one named tool with these arguments (then waits for its result, as a real model does). */
export function openAiToolCall(name: string, args: unknown, id = `call_${name}`): FakeReply {
  return openAiReply({ toolCalls: [{ id, name, argumentChunks: [JSON.stringify(args)] }] });
}
