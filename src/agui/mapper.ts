import { EventType, type Event as AguiEvent } from '@ag-ui/core';
import type { RunEvent } from '../protocol/index.js';

/**
 * Turns one run's events, in seq order, into AG-UI events. Stateful (an answer streamed as deltas is one open text
 * message until a tool call, thinking or the end closes it), and a pure function of the events fed so far: to resume
 * after seq N, feed events 1..N first and discard their output (`prime`).
 */
export class AguiMapper {
  private openMessageId: string | undefined;
  private streamedText = false;
  /** Steps an AG-UI agent started and has not finished: a cancel must close them before the run ends. */
  private readonly openSteps = new Set<string>();

  prime(events: readonly RunEvent[]): void {
    for (const event of events) this.map(event);
  }

  map(event: RunEvent): AguiEvent[] {
    const timestamp = Date.parse(event.ts);
    switch (event.type) {
      case 'agent_started':
        return [{ type: EventType.RUN_STARTED, threadId: event.threadId, runId: event.runId, timestamp }];
      case 'agent_thinking': {
        const messageId = `${event.runId}:reasoning:${event.seq}`;
        const content: AguiEvent[] =
          event.text === ''
            ? []
            : [{ type: EventType.REASONING_MESSAGE_CONTENT, messageId, delta: event.text, timestamp }];
        return [
          ...this.closeText(timestamp),
          { type: EventType.REASONING_START, messageId, timestamp },
          { type: EventType.REASONING_MESSAGE_START, messageId, role: 'reasoning', timestamp },
          ...content,
          { type: EventType.REASONING_MESSAGE_END, messageId, timestamp },
          { type: EventType.REASONING_END, messageId, timestamp },
        ];
      }
      case 'agent_message_delta': {
        if (event.text === '') return [];
        const opened: AguiEvent[] = [];
        if (this.openMessageId === undefined) {
          this.openMessageId = `${event.runId}:message:${event.seq}`;
          opened.push({
            type: EventType.TEXT_MESSAGE_START,
            messageId: this.openMessageId,
            role: 'assistant',
            timestamp,
          });
        }
        this.streamedText = true;
        return [
          ...opened,
          { type: EventType.TEXT_MESSAGE_CONTENT, messageId: this.openMessageId, delta: event.text, timestamp },
        ];
      }
      case 'tool_executing':
        return [
          ...this.closeText(timestamp),
          { type: EventType.TOOL_CALL_START, toolCallId: event.toolCallId, toolCallName: event.tool, timestamp },
          {
            type: EventType.TOOL_CALL_ARGS,
            toolCallId: event.toolCallId,
            delta: JSON.stringify(event.args ?? {}),
            timestamp,
          },
          { type: EventType.TOOL_CALL_END, toolCallId: event.toolCallId, timestamp },
        ];
      case 'tool_completed':
        return [
          {
            type: EventType.TOOL_CALL_RESULT,
            messageId: `${event.runId}:tool-result:${event.toolCallId}`,
            toolCallId: event.toolCallId,
            role: 'tool',
            content: JSON.stringify(event.error === undefined ? (event.result ?? null) : { error: event.error }),
            timestamp,
          },
        ];
      // AG-UI has no approval events: a CUSTOM event named as ours, its value the event's fields.
      case 'tool_approval_requested': {
        const { toolCallId, tool, args, expiresAt } = event;
        return [
          {
            type: EventType.CUSTOM,
            name: 'tool_approval_requested',
            value: { toolCallId, tool, args, expiresAt },
            timestamp,
          },
        ];
      }
      case 'tool_approval_resolved': {
        const { toolCallId, approved, reason } = event;
        return [
          {
            type: EventType.CUSTOM,
            name: 'tool_approval_resolved',
            value: { toolCallId, approved, reason },
            timestamp,
          },
        ];
      }
      case 'agent_completed': {
        // An answer that was not streamed arrives whole, as one text message.
        const whole: AguiEvent[] = [];
        if (!this.streamedText && event.text !== '') {
          const messageId = `${event.runId}:message:${event.seq}`;
          whole.push(
            { type: EventType.TEXT_MESSAGE_START, messageId, role: 'assistant', timestamp },
            { type: EventType.TEXT_MESSAGE_CONTENT, messageId, delta: event.text, timestamp },
            { type: EventType.TEXT_MESSAGE_END, messageId, timestamp },
          );
        }
        const usage =
          event.usage === undefined
            ? {}
            : {
                usage: [
                  {
                    inputTokens: event.usage.inputTokens,
                    outputTokens: event.usage.outputTokens,
                    totalTokens: event.usage.inputTokens + event.usage.outputTokens,
                  },
                ],
              };
        return [
          ...this.closeText(timestamp),
          ...whole,
          {
            type: EventType.RUN_FINISHED,
            threadId: event.threadId,
            runId: event.runId,
            result: event.text,
            outcome: { type: 'success' },
            ...usage,
            timestamp,
          },
        ];
      }
      case 'run_cancelled':
        return [
          ...this.closeText(timestamp),
          ...[...this.openSteps].map((stepName): AguiEvent => ({ type: EventType.STEP_FINISHED, stepName, timestamp })),
          {
            type: EventType.RUN_FINISHED,
            threadId: event.threadId,
            runId: event.runId,
            outcome: { type: 'cancelled' },
            timestamp,
          },
        ];
      case 'agent_error':
        return [
          ...this.closeText(timestamp),
          { type: EventType.RUN_ERROR, code: event.code, message: event.message, timestamp },
        ];
      // An event of the team's own agent (state, steps, custom, raw): re-emitted as itself, as AG-UI clients
      // close an open text message before such events, so does this.
      case 'agui_event': {
        const { type, stepName } = event.event;
        if (typeof stepName === 'string' && type === 'STEP_STARTED') this.openSteps.add(stepName);
        if (typeof stepName === 'string' && type === 'STEP_FINISHED') this.openSteps.delete(stepName);
        return [...this.closeText(timestamp), event.event as unknown as AguiEvent];
      }
    }
  }

  private closeText(timestamp: number): AguiEvent[] {
    if (this.openMessageId === undefined) return [];
    const messageId = this.openMessageId;
    this.openMessageId = undefined;
    return [{ type: EventType.TEXT_MESSAGE_END, messageId, timestamp }];
  }
}
