import type { Usage } from '../../../protocol/index.js';
import type { FinishReason, ModelToolCall, StepResult, StepSink } from '../provider.js';
import { malformedStream } from '../transport.js';
import { isRecord } from '../wire.js';

interface PartialCall {
  id: string;
  name: string;
  argumentsText: string;
}

/**
 * Folds `chat.completion.chunk`s into one step. Read defensively, as untyped JSON: self-hosted servers differ in
 * what they leave out. Reasoning comes as `reasoning_content` (vLLM, DeepSeek, llama.cpp) or `reasoning`
 * (Ollama, OpenRouter, newer vLLM); tool calls arrive as fragments keyed by `index`, their arguments split anywhere.
 */
export class ChunkAccumulator {
  #text = '';
  #reasoning = '';
  readonly #calls = new Map<number, PartialCall>();
  #finish: string | undefined;
  #usage: Usage = { inputTokens: 0, outputTokens: 0 };

  constructor(private readonly sink: StepSink) {}

  add(chunk: unknown): void {
    if (!isRecord(chunk) || !Array.isArray(chunk.choices)) throw malformedStream('a chunk without `choices`');
    if (isRecord(chunk.usage)) {
      this.#usage = {
        inputTokens: count(chunk.usage.prompt_tokens),
        outputTokens: count(chunk.usage.completion_tokens),
      };
      this.sink.usage(this.#usage);
    }
    for (const choice of chunk.choices as unknown[]) {
      // One completion is asked for (n = 1); anything else is ignored.
      if (!isRecord(choice) || (choice.index !== undefined && choice.index !== 0)) continue;
      if (isRecord(choice.delta)) this.#addDelta(choice.delta);
      if (typeof choice.finish_reason === 'string') this.#finish = choice.finish_reason;
    }
  }

  #addDelta(delta: Record<string, unknown>): void {
    const reasoning = typeof delta.reasoning_content === 'string' ? delta.reasoning_content : delta.reasoning;
    if (typeof reasoning === 'string' && reasoning !== '') {
      this.#reasoning += reasoning;
      this.sink.reasoning(reasoning);
    }
    // A refusal is the model's answer too: the user should read it.
    for (const text of [delta.content, delta.refusal]) {
      if (typeof text === 'string' && text !== '') {
        this.#text += text;
        this.sink.text(text);
      }
    }
    if (!Array.isArray(delta.tool_calls)) return;
    (delta.tool_calls as unknown[]).forEach((fragment, position) => {
      if (!isRecord(fragment)) throw malformedStream('a tool call fragment that is not an object');
      const index = typeof fragment.index === 'number' ? fragment.index : position;
      let call = this.#calls.get(index);
      if (call === undefined) {
        call = { id: '', name: '', argumentsText: '' };
        this.#calls.set(index, call);
      }
      if (typeof fragment.id === 'string' && fragment.id !== '') call.id = fragment.id;
      const fn = isRecord(fragment.function) ? fragment.function : {};
      // The name comes whole in the first fragment (OpenAI, vLLM, Ollama repeat or omit it afterwards).
      if (typeof fn.name === 'string' && call.name === '') call.name = fn.name;
      if (typeof fn.arguments === 'string') call.argumentsText += fn.arguments;
    });
  }

  /** The step, once the stream has ended; a stream cut off before any `finish_reason` is malformed. */
  finish(): StepResult {
    if (this.#finish === undefined) throw malformedStream('it ended before the model finished (no finish_reason)');
    const toolCalls: ModelToolCall[] = [...this.#calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, call]) => ({ id: call.id || `call_${index}`, name: call.name, argumentsText: call.argumentsText }));
    return {
      text: this.#text,
      reasoning: this.#reasoning === '' ? [] : [{ text: this.#reasoning }],
      toolCalls,
      usage: this.#usage,
      finish: finishReasonOf(this.#finish),
    };
  }
}

function finishReasonOf(reason: string): FinishReason {
  if (reason === 'stop' || reason === 'tool_calls' || reason === 'length') return reason;
  return reason === 'function_call' ? 'tool_calls' : 'other';
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
