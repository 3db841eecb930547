import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/protocol/index.js';
import {
  chatReducer,
  conversationRows,
  initialChat,
  NEW_THREAD,
  type ChatAction,
  type ChatState,
} from '../../web/src/chat-state.js';
import { applyRunEvent, emptyRun, runFromEvents } from '../../web/src/timeline.js';

const ts = (ms: number): string => new Date(Date.UTC(2025, 0, 1, 0, 0, 0, ms)).toISOString();
const base = { runId: 'r1', threadId: 't1' };
/** The events of "calculate 12*7" as the built-in agent emits them, answer streamed in two pieces. */
const calculation: RunEvent[] = [
  { ...base, seq: 1, ts: ts(0), type: 'agent_started' },
  { ...base, seq: 2, ts: ts(1), type: 'agent_thinking', text: 'I will use the calculator tool.' },
  {
    ...base,
    seq: 3,
    ts: ts(2),
    type: 'tool_executing',
    toolCallId: 'c1',
    tool: 'calculator',
    args: { expression: '12*7' },
  },
  {
    ...base,
    seq: 4,
    ts: ts(5),
    type: 'tool_completed',
    toolCallId: 'c1',
    tool: 'calculator',
    result: { expression: '12*7', result: 84 },
    durationMs: 3,
  },
  { ...base, seq: 5, ts: ts(6), type: 'agent_message_delta', text: '12*7 ' },
  { ...base, seq: 6, ts: ts(7), type: 'agent_message_delta', text: '= 84' },
  { ...base, seq: 7, ts: ts(9), type: 'agent_completed', text: '12*7 = 84', durationMs: 9 },
];

const reduce = (actions: ChatAction[], from: ChatState = initialChat): ChatState => actions.reduce(chatReducer, from);

describe('a run view built from events', () => {
  it('shows thinking, a tool card with its result and duration, and the streamed answer', () => {
    const view = runFromEvents('r1', 't1', calculation);
    expect(view.status).toBe('completed');
    expect(view.answer).toBe('12*7 = 84');
    expect(view.steps).toEqual([
      { kind: 'thinking', text: 'I will use the calculator tool.' },
      {
        kind: 'tool',
        card: {
          toolCallId: 'c1',
          tool: 'calculator',
          args: { expression: '12*7' },
          status: 'done',
          result: { expression: '12*7', result: 84 },
          error: undefined,
          durationMs: 3,
        },
      },
    ]);
    expect(view.startedAt).toBe(ts(0));
    expect(view.endedAt).toBe(ts(9));
  });

  it('a run the server stopped shows interrupted, the status its stored run has (outcomeOf)', () => {
    const view = runFromEvents('r1', 't1', [
      { ...base, seq: 1, ts: ts(0), type: 'agent_started' },
      { ...base, seq: 2, ts: ts(4), type: 'agent_error', code: 'interrupted', message: 'The server stopped.' },
    ]);
    expect(view).toMatchObject({ status: 'interrupted', endedAt: ts(4), error: { code: 'interrupted' } });
    // Any other agent_error is a failure.
    const failed = applyRunEvent(emptyRun('r2', 't1'), {
      ...base,
      runId: 'r2',
      seq: 1,
      ts: ts(0),
      type: 'agent_error',
      code: 'agent_failed',
      message: 'no',
    });
    expect(failed.status).toBe('error');
  });

  it("shows nothing for an AG-UI agent's own events (agui_event), and goes on folding the run", () => {
    const view = runFromEvents('r1', 't1', [
      { ...base, seq: 1, ts: ts(0), type: 'agent_started', agent: 'agui' },
      { ...base, seq: 2, ts: ts(1), type: 'agui_event', event: { type: 'STATE_SNAPSHOT', snapshot: { n: 1 } } },
      { ...base, seq: 3, ts: ts(2), type: 'agui_event', event: { type: 'SOMETHING_NEWER', whatever: [1] } },
      { ...base, seq: 4, ts: ts(3), type: 'agent_message_delta', text: 'hi' },
      { ...base, seq: 5, ts: ts(4), type: 'agent_completed', text: 'hi', durationMs: 4 },
    ]);
    expect(view).toMatchObject({ status: 'completed', steps: [], answer: 'hi', lastSeq: 5 });
  });

  it('marks a failed tool and a cancelled run', () => {
    const view = runFromEvents('r1', 't1', [
      { ...base, seq: 1, ts: ts(0), type: 'agent_started' },
      { ...base, seq: 2, ts: ts(1), type: 'tool_executing', toolCallId: 'w', tool: 'wait', args: { seconds: 60 } },
      {
        ...base,
        seq: 3,
        ts: ts(2),
        type: 'tool_completed',
        toolCallId: 'w',
        tool: 'wait',
        error: { code: 'aborted', message: 'cancelled' },
        durationMs: 1,
      },
      { ...base, seq: 4, ts: ts(3), type: 'run_cancelled' },
    ]);
    expect(view.status).toBe('cancelled');
    expect(view.steps[0]).toMatchObject({ kind: 'tool', card: { status: 'failed', error: { code: 'aborted' } } });
  });
});

describe('the conversation state', () => {
  it('moves the first message of a new chat to the thread the server created, whichever of ack and echo comes first', () => {
    for (const echoFirst of [false, true]) {
      const echo: ChatAction = {
        type: 'message_added',
        threadId: 't1',
        runId: 'r1',
        message: { id: 'm1', text: 'calculate 12*7' },
      };
      const ack: ChatAction = { type: 'message_accepted', key: 'local-1', threadId: 't1', runId: 'r1' };
      const state = reduce([
        { type: 'message_sent', key: 'local-1', threadId: NEW_THREAD, text: 'calculate 12*7' },
        ...(echoFirst ? [echo, ack] : [ack, echo]),
        { type: 'thread_selected', threadId: 't1' },
        ...calculation.map((event): ChatAction => ({ type: 'run_event', event })),
      ]);
      expect(state.items[NEW_THREAD]).toEqual([]);
      const rows = conversationRows(state);
      expect(rows.map((r) => r.kind)).toEqual(['message', 'run']);
      expect(rows[0]).toMatchObject({ kind: 'message', item: { text: 'calculate 12*7', runId: 'r1' } });
      expect(rows[1]).toMatchObject({ kind: 'run', run: { answer: '12*7 = 84' } });
    }
  });

  it('lists a message once when the echo of a message sent in an open thread arrives before the ack', () => {
    const state = reduce([
      { type: 'thread_selected', threadId: 't1' },
      { type: 'messages_loaded', threadId: 't1', messages: [] },
      { type: 'message_sent', key: 'local-1', threadId: 't1', text: 'hi' },
      { type: 'message_added', threadId: 't1', runId: 'r1', message: { id: 'm1', text: 'hi' } },
      { type: 'message_accepted', key: 'local-1', threadId: 't1', runId: 'r1' },
    ]);
    expect(state.items.t1).toEqual([{ key: 'm1', role: 'user', text: 'hi', runId: 'r1' }]);
  });

  it('shows a stored answer unless the live run of the same id is shown, and keeps unsent messages on reload', () => {
    const stored = [
      { id: 'm1', role: 'user' as const, text: 'calculate 12*7', runId: 'r1', createdAt: ts(0) },
      { id: 'm2', role: 'assistant' as const, text: '12*7 = 84', runId: 'r1', createdAt: ts(9) },
    ];
    const fresh = reduce([
      { type: 'thread_selected', threadId: 't1' },
      { type: 'message_sent', key: 'local-9', threadId: 't1', text: 'still sending' },
      { type: 'messages_loaded', threadId: 't1', messages: stored },
    ]);
    expect(conversationRows(fresh).map((r) => r.kind)).toEqual(['message', 'answer', 'message']);
    const live = reduce(
      calculation.map((event): ChatAction => ({ type: 'run_event', event })),
      fresh,
    );
    expect(conversationRows(live).map((r) => r.kind)).toEqual(['message', 'run', 'message']);
  });

  it('records why a message was refused', () => {
    const state = reduce([
      { type: 'message_sent', key: 'local-1', threadId: NEW_THREAD, text: 'x' },
      { type: 'message_refused', key: 'local-1', threadId: NEW_THREAD, code: 'thread_busy' },
    ]);
    expect(state.items[NEW_THREAD]).toEqual([
      { key: 'local-1', role: 'user', text: 'x', runId: null, pending: false, failed: 'thread_busy' },
    ]);
  });
});
