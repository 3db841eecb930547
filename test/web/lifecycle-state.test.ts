import { describe, expect, it } from 'vitest';
import type { RunEvent, ThreadMessage } from '../../src/protocol/index.js';
import {
  chatReducer,
  conversationRows,
  initialChat,
  NEW_THREAD,
  threadsAwaitingApproval,
  type ChatAction,
  type ChatState,
} from '../../web/src/chat-state.js';
import { runFromEvents, workedMs } from '../../web/src/timeline.js';

const ts = (s: number): string => new Date(Date.UTC(2025, 0, 1, 0, 0, s)).toISOString();
const reduce = (actions: ChatAction[], from: ChatState = initialChat): ChatState => actions.reduce(chatReducer, from);
const message = (n: number, role: 'user' | 'assistant' = n % 2 === 1 ? 'user' : 'assistant'): ThreadMessage => ({
  id: `m${n}`,
  role,
  text: `message ${n}`,
  runId: `r${Math.ceil(n / 2)}`,
  createdAt: ts(n),
});
const thread = (id: string, title = id) => ({ id, title, createdAt: ts(0), updatedAt: ts(0) });

describe('pages of messages (web/src/chat-state.ts)', () => {
  it('keeps the cursor of the older page, and puts that page above the shown one, each message once', () => {
    const latest = [3, 4, 5, 6].map((n) => message(n));
    let state = reduce([
      { type: 'thread_selected', threadId: 't1' },
      { type: 'messages_loaded', threadId: 't1', messages: latest, nextBefore: 'c1' },
    ]);
    expect(state.older.t1).toBe('c1');
    // A message announced meanwhile stays at the end; an older page overlapping the shown one adds nothing twice.
    state = reduce(
      [
        { type: 'message_added', threadId: 't1', runId: 'r4', message: { id: 'm7', text: 'message 7' } },
        { type: 'older_loaded', threadId: 't1', messages: [1, 2, 3].map((n) => message(n)), nextBefore: null },
      ],
      state,
    );
    expect(state.items.t1?.map((m) => m.key)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    expect(state.older.t1).toBeNull();
    // An answer whose question is on the page not loaded yet still shows.
    const cut = reduce([
      { type: 'thread_selected', threadId: 't2' },
      { type: 'messages_loaded', threadId: 't2', messages: [2, 3, 4].map((n) => message(n)), nextBefore: 'c2' },
    ]);
    expect(conversationRows(cut).map((r) => r.kind)).toEqual(['answer', 'message', 'answer']);
  });

  it('a renamed thread takes its new title; a deleted one leaves the list, its messages and its cursor', () => {
    const state = reduce([
      { type: 'threads_loaded', threads: [thread('t1', 'one'), thread('t2', 'two')] },
      { type: 'messages_loaded', threadId: 't1', messages: [message(1)], nextBefore: 'c' },
      { type: 'thread_renamed', thread: thread('t2', 'renamed') },
      { type: 'thread_deleted', threadId: 't1' },
    ]);
    expect(state.threads.map((t) => t.title)).toEqual(['renamed']);
    expect(state.items.t1).toBeUndefined();
    expect(state.older.t1).toBeUndefined();
    expect(state.threadId).toBe(NEW_THREAD);
  });
});

describe('pages of threads', () => {
  it('keeps the cursor of the next page, and adds that page below, each thread once', () => {
    const state = reduce([
      { type: 'threads_loaded', threads: [thread('t1'), thread('t2')], nextBefore: 'c1' },
      { type: 'more_threads_loaded', threads: [thread('t2'), thread('t3')], nextBefore: null },
    ]);
    expect(state.threads.map((t) => t.id)).toEqual(['t1', 't2', 't3']);
    expect(state.moreThreads).toBeNull();
    expect(reduce([{ type: 'threads_loaded', threads: [], nextBefore: 'c' }]).moreThreads).toBe('c');
  });
});

describe('waiting for approval', () => {
  const base = { runId: 'r1', threadId: 't1' };
  const call = { toolCallId: 'c1', tool: 'calculator', args: { expression: '6 * 7' } };
  const events: RunEvent[] = [
    { ...base, seq: 1, ts: ts(0), type: 'agent_started' },
    { ...base, seq: 2, ts: ts(1), type: 'tool_executing', ...call },
    { ...base, seq: 3, ts: ts(2), type: 'tool_approval_requested', ...call, expiresAt: ts(600) },
    { ...base, seq: 4, ts: ts(32), type: 'tool_approval_resolved', toolCallId: 'c1', approved: true, reason: 'user' },
    { ...base, seq: 5, ts: ts(33), type: 'tool_completed', ...call, result: 42, durationMs: 1 },
    { ...base, seq: 6, ts: ts(35), type: 'agent_completed', text: '6 * 7 = 42', durationMs: 5_000 },
  ];

  it('the clock stops while a call waits, and the wait is not counted once it ended', () => {
    const waiting = runFromEvents('r1', 't1', events.slice(0, 3));
    expect(waiting.pausedSince).toBe(ts(2));
    // However late it is now, the count stands where the wait began.
    expect(workedMs(waiting, Date.parse(ts(20)))).toBe(2_000);
    expect(workedMs(waiting, Date.parse(ts(500)))).toBe(2_000);
    const going = runFromEvents('r1', 't1', events.slice(0, 5));
    expect(going).toMatchObject({ pausedSince: null, pausedMs: 30_000 });
    expect(workedMs(going, Date.parse(ts(34)))).toBe(4_000);
    expect(workedMs(runFromEvents('r1', 't1', events), Date.now())).toBe(5_000);
    // A run that ends while waiting (cancelled) stops counting the wait at its end.
    const cancelled = runFromEvents('r1', 't1', [
      ...events.slice(0, 3),
      { ...base, seq: 4, ts: ts(12), type: 'run_cancelled' },
    ]);
    expect(cancelled).toMatchObject({ status: 'cancelled', pausedSince: null, pausedMs: 10_000 });
    expect(workedMs(cancelled, Date.now())).toBe(2_000);
  });

  it('names the threads with a run waiting, open or not, until the wait is resolved', () => {
    const asked = reduce([
      { type: 'thread_selected', threadId: 't2' },
      ...events.slice(0, 3).map((event): ChatAction => ({ type: 'run_event', event })),
    ]);
    expect([...threadsAwaitingApproval(asked)]).toEqual(['t1']);
    const resolved = reduce([{ type: 'run_event', event: events[3] as RunEvent }], asked);
    expect(threadsAwaitingApproval(resolved).size).toBe(0);
  });
});
