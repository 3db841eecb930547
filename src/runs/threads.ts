import { AppError, notFound } from '../errors/index.js';
import type { ConversationStore, RunStore } from './ports.js';

/** The thread a message goes to, as admission sees it. */
export interface ThreadRequest {
  readonly userId: string;
  readonly threadId: string;
  /** The message: its first line titles a new thread. */
  readonly text: string;
  readonly nowIso: string;
  /** The client named the thread (otherwise `threadId` is new and the thread is created). */
  readonly clientThread: boolean;
  /** The client mints thread ids (AG-UI): a thread it names that does not exist yet is created for it. */
  readonly createThread: boolean;
  /** A run id the client minted, checked before its thread is created (a refused request creates nothing). */
  readonly clientRunId: string | undefined;
}

export interface ThreadCaps {
  readonly maxThreadsPerUser: number;
  readonly maxMessagesPerThread: number;
}

/** A run stores the user's message and its answer. */
const MESSAGES_PER_RUN = 2;

/**
 * Creates the thread of a message without one. A `threadId` the user does not hold is `not_found`, unless the
 * client mints thread ids (AG-UI): then it is created, under that id, when no one else holds it. Refuses a thread
 * past MAX_THREADS_PER_USER and a message its thread has no room for (with its answer). Both caps are checked
 * before writing and may be passed by a few concurrent messages: they bound growth, they are not quotas.
 */
export async function ensureThread(
  deps: { readonly conversations: ConversationStore; readonly runs: RunStore; readonly caps: ThreadCaps },
  request: ThreadRequest,
): Promise<void> {
  const { conversations, caps } = deps;
  const { userId, threadId, nowIso } = request;
  const thread = { id: threadId, userId, title: titleOf(request.text), createdAt: nowIso, updatedAt: nowIso };
  if (request.clientThread) {
    const existing = await conversations.getThread(userId, threadId);
    if (existing !== undefined) {
      if (existing.messageCount + MESSAGES_PER_RUN > caps.maxMessagesPerThread) {
        throw new AppError(
          'thread_full',
          `This thread holds ${existing.messageCount} messages (the limit is ${caps.maxMessagesPerThread}): start a new thread.`,
        );
      }
      return;
    }
    if (!request.createThread) throw notFound('thread');
  }
  const threads = await conversations.countThreads(userId);
  if (threads >= caps.maxThreadsPerUser) {
    throw new AppError(
      'thread_limit_reached',
      `You hold ${threads} threads (the limit is ${caps.maxThreadsPerUser}): continue one of them.`,
    );
  }
  if (!request.clientThread) return conversations.createThread(thread);
  if (request.clientRunId !== undefined && (await deps.runs.isRunIdTaken(request.clientRunId))) throw notFound('run');
  try {
    await conversations.createThread(thread);
  } catch {
    // Created meanwhile by this user's own concurrent request: fine. Otherwise the id is someone else's.
    if ((await conversations.getThread(userId, threadId)) === undefined) throw notFound('thread');
  }
}

function titleOf(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}
