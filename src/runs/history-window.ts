import type { HistoryMessage } from '../agents/index.js';
import type { MessageRecord } from './ports.js';

/** How much of a thread's past a run gives its agent (RUN_HISTORY_MESSAGES, RUN_HISTORY_CHARS). */
export interface HistoryWindow {
  readonly historyMessages: number;
  readonly historyChars: number;
}

/**
 * The most recent messages that fit the window whole, oldest first. A window never opens on an answer: models
 * expect a conversation to start with the user, and an answer without its question misleads more than it helps.
 */
export function historyWithin(window: HistoryWindow, messages: readonly MessageRecord[]): HistoryMessage[] {
  const kept: HistoryMessage[] = [];
  let chars = 0;
  for (let i = messages.length - 1; i >= 0 && kept.length < window.historyMessages; i--) {
    const { id, role, text } = messages[i]!;
    chars += text.length;
    if (chars > window.historyChars) break;
    kept.push({ id, role, text });
  }
  kept.reverse();
  while (kept[0]?.role === 'assistant') kept.shift();
  return kept;
}
