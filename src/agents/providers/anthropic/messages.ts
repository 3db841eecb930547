import type { ContentBlockParam, MessageParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import type { ToolSpec } from '../../tools/tool.js';
import type { ConversationTurn } from '../provider.js';
import { replayedArguments, toolParameters } from '../wire.js';

/**
 * The conversation as Messages API turns: tool results are a user turn of `tool_result` blocks, thinking blocks go
 * back signed and first (the API checks them when a conversation continues after a tool call), empty text blocks
 * are left out (the API refuses them), and turns of the same role are merged.
 */
export function toAnthropicMessages(turns: readonly ConversationTurn[]): MessageParam[] {
  const messages: Array<{ role: 'user' | 'assistant'; content: ContentBlockParam[] }> = [];
  const push = (role: 'user' | 'assistant', content: ContentBlockParam[]): void => {
    if (content.length === 0) return;
    const last = messages.at(-1);
    if (last?.role === role) last.content.push(...content);
    else messages.push({ role, content });
  };
  for (const turn of turns) {
    switch (turn.role) {
      case 'user':
        push('user', turn.text === '' ? [] : [{ type: 'text', text: turn.text }]);
        break;
      case 'assistant': {
        const content: ContentBlockParam[] = [];
        for (const r of turn.reasoning) {
          if (r.redactedData !== undefined) content.push({ type: 'redacted_thinking', data: r.redactedData });
          else if (r.signature !== undefined && r.signature !== '')
            content.push({ type: 'thinking', thinking: r.text, signature: r.signature });
        }
        if (turn.text !== '') content.push({ type: 'text', text: turn.text });
        for (const call of turn.toolCalls)
          content.push({
            type: 'tool_use',
            id: call.id,
            name: call.name,
            input: replayedArguments(call.argumentsText),
          });
        push('assistant', content);
        break;
      }
      case 'tool_results':
        push(
          'user',
          turn.results.map((r) => ({
            type: 'tool_result',
            tool_use_id: r.toolCallId,
            content: r.content,
            ...(r.isError ? { is_error: true } : {}),
          })),
        );
        break;
    }
  }
  return messages;
}

export function toAnthropicTools(tools: readonly ToolSpec[]): Tool[] {
  return tools.map((tool) => ({
    name: tool.name,
    description: tool.description,
    input_schema: { type: 'object', ...toolParameters(tool) },
  }));
}
