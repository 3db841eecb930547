import { errorBody, type FakeReply } from './fake-llm-server.js';

interface AnthropicToolUseScript {
  readonly id: string;
  readonly name: string;
  /** The `input_json_delta` `partial_json` fragments, in order. */
  readonly jsonChunks: readonly string[];
}

export interface AnthropicStreamScript {
  readonly thinking?: { readonly chunks: readonly string[]; readonly signature: string };
  readonly text?: readonly string[];
  readonly toolUses?: readonly AnthropicToolUseScript[];
  /** Default: `tool_use` when there are tool uses, else `end_turn`. */
  readonly stopReason?: 'end_turn' | 'tool_use' | 'max_tokens';
  readonly usage?: { readonly input: number; readonly output: number };
  /** Ends the stream with an `error` event after the content, instead of message_delta / message_stop. */
  readonly errorEvent?: { readonly type: string; readonly message: string };
  /** Leave message_delta and message_stop out (a cut-off stream). */
  readonly truncate?: boolean;
  readonly model?: string;
}

const frame = (type: string, data: unknown): string => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * A Messages API stream exactly as Anthropic sends it: `event:`/`data:` pairs — message_start (with input usage),
 * a ping, content_block_start / content_block_delta (thinking_delta and signature_delta, text_delta,
 * input_json_delta) / content_block_stop per block, message_delta (stop_reason, cumulative output usage),
 * message_stop; or an `error` event.
 */
function anthropicStream(script: AnthropicStreamScript): string {
  const usage = script.usage ?? { input: 13, output: 9 };
  let body = frame('message_start', {
    type: 'message_start',
    message: {
      id: 'msg_fake',
      type: 'message',
      role: 'assistant',
      model: script.model ?? 'claude-fake',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: usage.input,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: 1,
        service_tier: 'standard',
      },
    },
  });
  // Anthropic writes this one with a space after the colon.
  body += 'event: ping\ndata: {"type": "ping"}\n\n';
  let index = 0;
  if (script.thinking !== undefined) {
    body += frame('content_block_start', {
      type: 'content_block_start',
      index,
      content_block: { type: 'thinking', thinking: '', signature: '' },
    });
    for (const piece of script.thinking.chunks)
      body += frame('content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'thinking_delta', thinking: piece },
      });
    body += frame('content_block_delta', {
      type: 'content_block_delta',
      index,
      delta: { type: 'signature_delta', signature: script.thinking.signature },
    });
    body += frame('content_block_stop', { type: 'content_block_stop', index });
    index += 1;
  }
  if (script.text !== undefined) {
    body += frame('content_block_start', {
      type: 'content_block_start',
      index,
      content_block: { type: 'text', text: '' },
    });
    for (const piece of script.text)
      body += frame('content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'text_delta', text: piece },
      });
    body += frame('content_block_stop', { type: 'content_block_stop', index });
    index += 1;
  }
  for (const use of script.toolUses ?? []) {
    body += frame('content_block_start', {
      type: 'content_block_start',
      index,
      content_block: { type: 'tool_use', id: use.id, name: use.name, input: {} },
    });
    body += frame('content_block_delta', {
      type: 'content_block_delta',
      index,
      delta: { type: 'input_json_delta', partial_json: '' },
    });
    for (const piece of use.jsonChunks)
      body += frame('content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: piece },
      });
    body += frame('content_block_stop', { type: 'content_block_stop', index });
    index += 1;
  }
  if (script.errorEvent !== undefined)
    return (
      body +
      frame('error', { type: 'error', error: { type: script.errorEvent.type, message: script.errorEvent.message } })
    );
  if (script.truncate === true) return body;
  const stopReason = script.stopReason ?? ((script.toolUses?.length ?? 0) > 0 ? 'tool_use' : 'end_turn');
  body += frame('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: usage.output },
  });
  body += frame('message_stop', { type: 'message_stop' });
  return body;
}

export function anthropicReply(
  script: AnthropicStreamScript,
  options: { split?: 'awkward' | number; stallAfterBytes?: number } = {},
): FakeReply {
  return { kind: 'stream', body: anthropicStream(script), ...options };
}

/** An HTTP error as Anthropic answers it (`{type: "error", error: {type, message}, request_id}`). */
export function anthropicError(
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): FakeReply {
  return { kind: 'error', status, body: errorBody('anthropic', type, message), headers };
}

/** The model calls one named tool with these arguments. */
export function anthropicToolCall(name: string, args: unknown, id = `toolu_${name}`): FakeReply {
  return anthropicReply({ toolUses: [{ id, name, jsonChunks: [JSON.stringify(args)] }] });
}
