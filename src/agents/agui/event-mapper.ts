import { EventType, type BaseEvent } from '@ag-ui/core';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { AppError } from '../../errors/index.js';
import type { AgentIO } from '../agent.js';
import { redactJson, redactText, StreamRedactor } from './redactor.js';

/** Events that become nothing of their own: their content is mapped by the events between them. */
const CONSUMED: ReadonlySet<string> = new Set([
  EventType.RUN_STARTED,
  EventType.TEXT_MESSAGE_START,
  EventType.TEXT_MESSAGE_END,
  EventType.TOOL_CALL_START,
  EventType.TOOL_CALL_ARGS,
  EventType.REASONING_START,
  EventType.REASONING_MESSAGE_START,
  EventType.REASONING_MESSAGE_END,
  EventType.REASONING_END,
]);

type Field = Record<string, unknown>;
const text = (event: Field, key: string): string => (typeof event[key] === 'string' ? event[key] : '');

/** How a run ended, as the agent told it. */
export type AguiOutcome = { readonly kind: 'finished' } | { readonly kind: 'error'; readonly message: string };

/**
 * Turns one run's AG-UI events (already in AG-UI order: chunks expanded, order verified) into the run's events,
 * as docs/AGENTS.md maps them. Keeps the answer, the tool calls still open and the thread's state.
 */
export class AguiEventMapper {
  private answer = '';
  private readonly answerRedactor: StreamRedactor;
  private readonly toolArgs = new Map<string, { name: string; args: string }>();
  private readonly open = new Set<string>();
  private stateValue: unknown;
  outcome: AguiOutcome | undefined;

  constructor(
    private readonly io: AgentIO,
    private readonly secret: string,
    initialState: unknown,
  ) {
    this.answerRedactor = new StreamRedactor(secret);
    this.stateValue = initialState;
  }

  /** The answer so far (redacted). */
  get text(): string {
    return this.answer;
  }

  map(raw: BaseEvent): void {
    const event = raw;
    if (this.outcome !== undefined) return;
    switch (event.type) {
      case EventType.TEXT_MESSAGE_CONTENT:
        return this.delta(text(event, 'delta'));
      // What the redactor held back was no token: the message it could have continued has ended.
      case EventType.TEXT_MESSAGE_END:
        return this.flushAnswer();
      // (An older agent's THINKING_TEXT_MESSAGE_CONTENT arrives renamed: see legacy-thinking.ts.)
      case EventType.REASONING_MESSAGE_CONTENT: {
        const thought = redactText(text(event, 'delta'), this.secret);
        if (thought !== '') this.io.think(thought);
        return;
      }
      case EventType.TOOL_CALL_START:
        this.toolArgs.set(text(event, 'toolCallId'), { name: text(event, 'toolCallName'), args: '' });
        return;
      case EventType.TOOL_CALL_ARGS: {
        const call = this.toolArgs.get(text(event, 'toolCallId'));
        if (call !== undefined) call.args += text(event, 'delta');
        return;
      }
      case EventType.TOOL_CALL_END:
        return this.toolCallEnded(text(event, 'toolCallId'));
      case EventType.TOOL_CALL_RESULT:
        return this.toolResult(text(event, 'toolCallId'), text(event, 'content'));
      case EventType.RUN_FINISHED:
        this.flushAnswer();
        this.outcome = { kind: 'finished' };
        return;
      case EventType.RUN_ERROR:
        this.flushAnswer();
        this.outcome = { kind: 'error', message: redactText(text(event, 'message'), this.secret) };
        return;
      case EventType.STATE_SNAPSHOT:
        this.stateValue = event.snapshot;
        this.io.stateChanged(this.stateValue);
        break;
      case EventType.STATE_DELTA:
        this.stateValue = applyDelta(this.stateValue, event.delta);
        this.io.stateChanged(this.stateValue);
        break;
    }
    if (CONSUMED.has(event.type)) return;
    // Everything else (state, steps, custom, raw, messages snapshots...) is the agent's own: kept as it came.
    this.io.aguiEvent(redactJson(event as Field & { type: string }, this.secret));
  }

  /** Closes the tool calls the agent left without a result: each gets its tool_completed before the end. */
  closeOpenToolCalls(): void {
    for (const toolCallId of this.open) {
      this.io.toolFinished(toolCallId, {
        ok: false,
        error: { code: 'tool_result_missing', message: 'The agent reported no result for this tool call.' },
      });
    }
    this.open.clear();
  }

  private delta(piece: string): void {
    const safe = this.answerRedactor.push(piece);
    if (safe === '') return;
    this.answer += safe;
    this.io.delta(safe);
  }

  private flushAnswer(): void {
    const rest = this.answerRedactor.flush();
    if (rest === '') return;
    this.answer += rest;
    this.io.delta(rest);
  }

  private toolCallEnded(toolCallId: string): void {
    const call = this.toolArgs.get(toolCallId);
    if (call === undefined) return;
    this.toolArgs.delete(toolCallId);
    this.open.add(toolCallId);
    this.io.toolStarted(toolCallId, call.name, redactJson(parseOr(call.args === '' ? '{}' : call.args), this.secret));
  }

  private toolResult(toolCallId: string, content: string): void {
    if (!this.open.delete(toolCallId)) return;
    this.io.toolFinished(toolCallId, { ok: true, result: redactJson(parseOr(content), this.secret) });
  }
}

/** JSON when the text is JSON, else the text itself. */
function parseOr(textValue: string): unknown {
  try {
    return JSON.parse(textValue) as unknown;
  } catch {
    return textValue;
  }
}

function applyDelta(state: unknown, delta: unknown): unknown {
  try {
    return fastJsonPatch.applyPatch(structuredClone(state ?? {}), delta as Operation[], true, false).newDocument;
  } catch (err) {
    throw new AppError('agent_protocol_error', `The agent sent a state delta that does not apply: ${String(err)}`);
  }
}
