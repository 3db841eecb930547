import { EventType, type BaseEvent } from '@ag-ui/core';

const RENAMED: Readonly<Record<string, EventType>> = {
  THINKING_START: EventType.REASONING_START,
  THINKING_TEXT_MESSAGE_START: EventType.REASONING_MESSAGE_START,
  THINKING_TEXT_MESSAGE_CONTENT: EventType.REASONING_MESSAGE_CONTENT,
  THINKING_TEXT_MESSAGE_END: EventType.REASONING_MESSAGE_END,
  THINKING_END: EventType.REASONING_END,
};

/**
 * Agents built on older AG-UI versions stream their reasoning as THINKING_* events, which today's client drops as
 * unknown. They become the REASONING_* events that replaced them (with a message id per thinking block, which the
 * old events did not carry), so their reasoning still reaches the run as agent_thinking. One function per stream
 * (it counts the blocks), for rxjs's `map`.
 */
export function legacyThinking(): (event: BaseEvent) => BaseEvent {
  let block = 0;
  return (event) => {
    const type = RENAMED[event.type as string];
    if (type === undefined) return event;
    const messageId = `thinking-${block}`;
    if (type === EventType.REASONING_END) block += 1;
    const { delta } = event as BaseEvent & { delta?: unknown };
    return {
      type,
      messageId,
      ...(type === EventType.REASONING_MESSAGE_START ? { role: 'reasoning' } : {}),
      ...(type === EventType.REASONING_MESSAGE_CONTENT ? { delta: typeof delta === 'string' ? delta : '' } : {}),
    };
  };
}
