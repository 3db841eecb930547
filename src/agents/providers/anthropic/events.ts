import type { Usage } from '../../../protocol/index.js';
import type { FinishReason, ModelReasoning, ModelToolCall, StepResult, StepSink } from '../provider.js';
import { malformedStream } from '../transport.js';
import { isRecord } from '../wire.js';

type Block =
  | { kind: 'text'; text: string }
  | { kind: 'thinking'; text: string; signature: string }
  | { kind: 'redacted_thinking'; data: string }
  | { kind: 'tool_use'; id: string; name: string; json: string }
  | { kind: 'other' };

/**
 * Folds Messages API stream events into one step: content blocks by index (text, thinking with its signature,
 * redacted thinking, tool_use whose input arrives as `input_json_delta` fragments), usage from `message_start`
 * and the cumulative counts of `message_delta`. Unknown event and block types are skipped, as the API asks.
 */
export class EventAccumulator {
  readonly #blocks = new Map<number, Block>();
  #usage: Usage = { inputTokens: 0, outputTokens: 0 };
  #stopReason: string | undefined;
  #stopped = false;

  constructor(private readonly sink: StepSink) {}

  add(event: unknown): void {
    if (!isRecord(event) || typeof event.type !== 'string') throw malformedStream('an event without a type');
    switch (event.type) {
      case 'message_start':
        if (!isRecord(event.message)) throw malformedStream('message_start without a message');
        this.#addUsage(event.message.usage);
        break;
      case 'content_block_start':
        this.#startBlock(event.index, event.content_block);
        break;
      case 'content_block_delta':
        this.#addDelta(this.#blockAt(event.index), event.delta);
        break;
      case 'message_delta':
        if (isRecord(event.delta) && typeof event.delta.stop_reason === 'string')
          this.#stopReason = event.delta.stop_reason;
        this.#addUsage(event.usage);
        break;
      case 'message_stop':
        this.#stopped = true;
        break;
      default:
        // content_block_stop, and event types added after this was written.
        break;
    }
  }

  /** The step, once the stream has ended; a stream cut off before `message_stop` is malformed. */
  finish(): StepResult {
    if (!this.#stopped) throw malformedStream('it ended before message_stop');
    const blocks = [...this.#blocks.entries()].sort(([a], [b]) => a - b).map(([, block]) => block);
    const reasoning: ModelReasoning[] = [];
    const toolCalls: ModelToolCall[] = [];
    let text = '';
    for (const block of blocks) {
      if (block.kind === 'text') text += block.text;
      else if (block.kind === 'thinking') reasoning.push({ text: block.text, signature: block.signature });
      else if (block.kind === 'redacted_thinking') reasoning.push({ text: '', redactedData: block.data });
      else if (block.kind === 'tool_use') toolCalls.push({ id: block.id, name: block.name, argumentsText: block.json });
    }
    return { text, reasoning, toolCalls, usage: this.#usage, finish: finishReasonOf(this.#stopReason) };
  }

  #blockAt(index: unknown): Block {
    const block = typeof index === 'number' ? this.#blocks.get(index) : undefined;
    if (block === undefined) throw malformedStream('a delta for a content block that was never started');
    return block;
  }

  #startBlock(index: unknown, content: unknown): void {
    if (typeof index !== 'number' || !isRecord(content))
      throw malformedStream('content_block_start without an index or block');
    let block: Block;
    switch (content.type) {
      case 'text':
        block = { kind: 'text', text: '' };
        this.#blocks.set(index, block);
        if (typeof content.text === 'string') this.#appendText(block, content.text);
        return;
      case 'thinking':
        block = {
          kind: 'thinking',
          text: '',
          signature: typeof content.signature === 'string' ? content.signature : '',
        };
        this.#blocks.set(index, block);
        if (typeof content.thinking === 'string') this.#appendThinking(block, content.thinking);
        return;
      case 'redacted_thinking':
        this.#blocks.set(index, {
          kind: 'redacted_thinking',
          data: typeof content.data === 'string' ? content.data : '',
        });
        return;
      case 'tool_use':
        if (typeof content.id !== 'string' || typeof content.name !== 'string')
          throw malformedStream('a tool_use block without id or name');
        this.#blocks.set(index, { kind: 'tool_use', id: content.id, name: content.name, json: '' });
        return;
      default:
        this.#blocks.set(index, { kind: 'other' });
    }
  }

  #addDelta(block: Block, delta: unknown): void {
    if (!isRecord(delta)) throw malformedStream('content_block_delta without a delta');
    if (delta.type === 'text_delta' && block.kind === 'text' && typeof delta.text === 'string')
      this.#appendText(block, delta.text);
    else if (delta.type === 'thinking_delta' && block.kind === 'thinking' && typeof delta.thinking === 'string')
      this.#appendThinking(block, delta.thinking);
    else if (delta.type === 'signature_delta' && block.kind === 'thinking' && typeof delta.signature === 'string')
      block.signature += delta.signature;
    else if (delta.type === 'input_json_delta' && block.kind === 'tool_use' && typeof delta.partial_json === 'string')
      block.json += delta.partial_json;
  }

  #appendText(block: { text: string }, text: string): void {
    if (text === '') return;
    block.text += text;
    this.sink.text(text);
  }

  #appendThinking(block: { text: string }, text: string): void {
    if (text === '') return;
    block.text += text;
    this.sink.reasoning(text);
  }

  /** Counts are cumulative; input includes what was written to and read from the prompt cache. */
  #addUsage(usage: unknown): void {
    if (!isRecord(usage)) return;
    const input =
      count(usage.input_tokens) + count(usage.cache_creation_input_tokens) + count(usage.cache_read_input_tokens);
    this.#usage = {
      inputTokens: Math.max(this.#usage.inputTokens, input),
      outputTokens: Math.max(this.#usage.outputTokens, count(usage.output_tokens)),
    };
    this.sink.usage(this.#usage);
  }
}

function finishReasonOf(reason: string | undefined): FinishReason {
  if (reason === 'end_turn' || reason === 'stop_sequence') return 'stop';
  if (reason === 'tool_use') return 'tool_calls';
  if (reason === 'max_tokens' || reason === 'model_context_window_exceeded') return 'length';
  return 'other';
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
