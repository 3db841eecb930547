import { contentToText, EventType, type BaseEvent, type ContentPart } from '@ag-ui/core';
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
  private readonly reasoning = new Map<string, StreamRedactor>();
  private readonly toolArgs = new Map<string, { name: string; args: string }>();
  /** Tool calls started and not yet answered: the agent's id → the id the run shows (redacted). */
  private readonly open = new Map<string, string>();
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
      case EventType.REASONING_MESSAGE_CONTENT:
        return this.think(text(event, 'messageId'), text(event, 'delta'));
      case EventType.REASONING_MESSAGE_END:
        return this.flushThinking(text(event, 'messageId'));
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
      case EventType.TOOL_CALL_RESULT: {
        const { content } = event;
        // Content is text, or (AG-UI 1.0) a list of parts: their text is the result.
        const resultText =
          typeof content === 'string'
            ? content
            : contentToText(Array.isArray(content) ? (content as ContentPart[]) : undefined);
        return this.toolResult(text(event, 'toolCallId'), resultText);
      }
      case EventType.RUN_FINISHED:
        this.flushAll();
        this.outcome = { kind: 'finished' };
        return;
      case EventType.RUN_ERROR:
        this.flushAll();
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
    for (const agentId of [...this.open.keys()]) this.closeMissing(agentId);
  }

  private closeMissing(agentId: string): void {
    const shownId = this.open.get(agentId);
    if (shownId === undefined) return;
    this.open.delete(agentId);
    this.io.toolFinished(shownId, {
      ok: false,
      error: { code: 'tool_result_missing', message: 'The agent reported no result for this tool call.' },
    });
  }

  private think(messageId: string, piece: string): void {
    let redactor = this.reasoning.get(messageId);
    if (redactor === undefined) this.reasoning.set(messageId, (redactor = new StreamRedactor(this.secret)));
    const safe = redactor.push(piece);
    if (safe !== '') this.io.think(safe);
  }

  private flushThinking(messageId: string): void {
    const rest = this.reasoning.get(messageId)?.flush() ?? '';
    this.reasoning.delete(messageId);
    if (rest !== '') this.io.think(rest);
  }

  private flushAll(): void {
    for (const messageId of [...this.reasoning.keys()]) this.flushThinking(messageId);
    this.flushAnswer();
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

  private toolCallEnded(agentId: string): void {
    const call = this.toolArgs.get(agentId);
    if (call === undefined) return;
    this.toolArgs.delete(agentId);
    // The same id again while its first call is open: that one will get no result of its own.
    this.closeMissing(agentId);
    const shownId = redactText(agentId, this.secret);
    this.open.set(agentId, shownId);
    const args = redactJson(parseOr(call.args === '' ? '{}' : call.args), this.secret);
    this.io.toolStarted(shownId, redactText(call.name, this.secret), args);
  }

  private toolResult(agentId: string, content: string): void {
    const shownId = this.open.get(agentId);
    if (shownId === undefined) return;
    this.open.delete(agentId);
    this.io.toolFinished(shownId, { ok: true, result: redactJson(parseOr(content), this.secret) });
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
    // Not the library's message: it quotes the whole state, which may hold anything the agent put there.
    const name = err instanceof Error ? ((err as { name?: string }).name ?? 'Error') : 'Error';
    throw new AppError('agent_protocol_error', `The agent sent a state delta that does not apply (${name}).`);
  }
}
