import { setTimeout as delay } from 'node:timers/promises';
import { HttpAgent, type Message, type RunAgentResult } from '@ag-ui/client';
import { EventSchema } from '@ag-ui/core/schemas';
import type { Script } from './runs.js';
import { payloads, toSseText, type SseEvent } from './sse.js';

/** An AG-UI event as read off the wire. */
export type AguiEvent = { type: string } & Record<string, unknown>;

/**
 * `script:drip <n> <everyMs>`: thinks once, streams n deltas "d1 ".."dn " one every `everyMs` ms, with a calculator
 * call (6*7) after the first half: an open text message, a tool call and a second text message, slow enough to be
 * cut anywhere. Honours the signal.
 */
export const dripScript: Script = async (req, io) => {
  const [, n = '60', ms = '20'] = req.text.split(/\s+/);
  const count = Number(n);
  io.think('dripping');
  let text = '';
  for (let i = 1; i <= count; i++) {
    req.signal.throwIfAborted();
    if (i === Math.floor(count / 2) + 1) await io.callTool('calculator', { expression: '6*7' });
    const piece = `d${i} `;
    io.delta(piece);
    text += piece;
    await delay(Number(ms), undefined, { signal: req.signal });
  }
  return { text };
};

/** The text "d1 ".."dn " a drip of n deltas streams. */
export const dripText = (from: number, to: number): string =>
  Array.from({ length: to - from + 1 }, (_, i) => `d${from + i} `).join('');

/**
 * What is wrong with one run's AG-UI event sequence: events failing @ag-ui/core's EventSchema, and order violations
 * (one RUN_STARTED first, one RUN_FINISHED/RUN_ERROR last, every text message, tool call and reasoning block opened
 * once, its content and end inside it, closed before the run ends, tool results after their call). Empty when valid.
 */
export function aguiProblems(events: readonly AguiEvent[]): string[] {
  const problems: string[] = [];
  events.forEach((e, i) => {
    const parsed = EventSchema.safeParse(e);
    if (!parsed.success) problems.push(`#${i} ${e.type} fails EventSchema: ${parsed.error.message}`);
  });
  const starts = events.filter((e) => e.type === 'RUN_STARTED').length;
  const ends = events.filter((e) => e.type === 'RUN_FINISHED' || e.type === 'RUN_ERROR').length;
  if (starts !== 1 || events[0]?.type !== 'RUN_STARTED')
    problems.push(`expected exactly one RUN_STARTED, first; got ${starts}, first ${events[0]?.type}`);
  const lastType = events.at(-1)?.type;
  if (ends !== 1 || (lastType !== 'RUN_FINISHED' && lastType !== 'RUN_ERROR'))
    problems.push(`expected exactly one RUN_FINISHED/RUN_ERROR, last; got ${ends}, last ${lastType}`);

  // Each kind of block: its start, body and end events, and the field naming it.
  const kinds = [
    {
      name: 'text message',
      key: 'messageId',
      start: 'TEXT_MESSAGE_START',
      body: ['TEXT_MESSAGE_CONTENT'],
      end: 'TEXT_MESSAGE_END',
      sameId: true,
    },
    {
      name: 'tool call',
      key: 'toolCallId',
      start: 'TOOL_CALL_START',
      body: ['TOOL_CALL_ARGS'],
      end: 'TOOL_CALL_END',
      sameId: true,
    },
    // A reasoning message sits inside a reasoning block, which may name itself differently.
    {
      name: 'reasoning',
      key: 'messageId',
      start: 'REASONING_START',
      body: ['REASONING_MESSAGE_START', 'REASONING_MESSAGE_CONTENT', 'REASONING_MESSAGE_END'],
      end: 'REASONING_END',
      sameId: false,
    },
    {
      name: 'reasoning message',
      key: 'messageId',
      start: 'REASONING_MESSAGE_START',
      body: ['REASONING_MESSAGE_CONTENT'],
      end: 'REASONING_MESSAGE_END',
      sameId: true,
    },
  ] as const;
  for (const kind of kinds) {
    const open = new Set<string>();
    const closed = new Set<string>();
    events.forEach((e, i) => {
      const id = String(e[kind.key]);
      if (e.type === kind.start) {
        if (open.has(id) || closed.has(id)) problems.push(`#${i} ${kind.name} ${id} started twice`);
        open.add(id);
      } else if ((kind.body as readonly string[]).includes(e.type) && (kind.sameId ? !open.has(id) : open.size === 0)) {
        problems.push(`#${i} ${e.type} outside its ${kind.name} ${id}`);
      } else if (e.type === kind.end) {
        if (!open.delete(id)) problems.push(`#${i} ${e.type} for ${kind.name} ${id}, which is not open`);
        closed.add(id);
      } else if ((e.type === 'RUN_FINISHED' || e.type === 'RUN_ERROR') && open.size > 0) {
        problems.push(`#${i} ${e.type} while ${kind.name}s are open: ${[...open].join(', ')}`);
      }
      if (kind.name === 'tool call' && e.type === 'TOOL_CALL_RESULT' && !closed.has(id))
        problems.push(`#${i} TOOL_CALL_RESULT for tool call ${id}, which has not ended`);
    });
    if (open.size > 0) problems.push(`${kind.name}s never ended: ${[...open].join(', ')}`);
  }
  return problems;
}

/**
 * Feeds a recorded event stream to the official @ag-ui/client HttpAgent (its fetch answers with the recording): it
 * verifies the order and schemas and throws on any violation, and builds the messages a real client would.
 */
export async function replayThroughClient(
  events: readonly SseEvent[],
  ids: { threadId: string; runId: string },
): Promise<RunAgentResult & { messages: Message[] }> {
  const text = toSseText(events);
  const agent = new HttpAgent({
    url: 'http://recorded.invalid/agui',
    threadId: ids.threadId,
    fetch: async () => new Response(text, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
  });
  agent.addMessage({ id: 'replayed-user-message', role: 'user', content: 'replayed' });
  const result = await agent.runAgent({ runId: ids.runId, tools: [], context: [] });
  return { ...result, messages: agent.messages };
}

/** The AG-UI events of a stream. */
export const aguiEvents = (events: readonly SseEvent[]): AguiEvent[] => payloads<AguiEvent>(events);

/** The text of an AG-UI message's content (a string, or text parts). */
export function textOf(message: Message): string {
  const content: unknown = 'content' in message ? message.content : undefined;
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content.map((p: { type?: string; text?: string }) => (p.type === 'text' ? (p.text ?? '') : '')).join('');
  return '';
}
