import type { ChatCompletionFunctionTool, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { ToolSpec } from '../../tools/tool.js';
import type { ConversationTurn } from '../provider.js';
import { replayedArguments, toolParameters } from '../wire.js';

/**
 * The conversation as Chat Completions messages. Reasoning is never sent back: DeepSeek refuses requests that
 * carry `reasoning_content`, and no server needs it.
 */
export function toChatMessages(system: string, turns: readonly ConversationTurn[]): ChatCompletionMessageParam[] {
  const messages: ChatCompletionMessageParam[] = [{ role: 'system', content: system }];
  for (const turn of turns) {
    switch (turn.role) {
      case 'user':
        messages.push({ role: 'user', content: turn.text });
        break;
      case 'assistant':
        messages.push({
          role: 'assistant',
          content: turn.text === '' ? null : turn.text,
          ...(turn.toolCalls.length === 0
            ? {}
            : {
                tool_calls: turn.toolCalls.map((call) => ({
                  id: call.id,
                  type: 'function' as const,
                  function: { name: call.name, arguments: JSON.stringify(replayedArguments(call.argumentsText)) },
                })),
              }),
        });
        break;
      case 'tool_results':
        for (const result of turn.results)
          messages.push({ role: 'tool', tool_call_id: result.toolCallId, content: result.content });
        break;
    }
  }
  return messages;
}

export function toChatTools(tools: readonly ToolSpec[]): ChatCompletionFunctionTool[] {
  return tools.map((tool) => ({
    type: 'function',
    function: { name: tool.name, description: tool.description, parameters: toolParameters(tool) },
  }));
}
