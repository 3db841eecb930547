import { setTimeout as delay } from 'node:timers/promises';
import { AppError, isAppError, notFound } from '../errors/index.js';
import type { ConversationStore } from './ports.js';
import type { RunManager } from './run-manager.js';

/** How long a delete waits for the thread's runs to end once cancelled, and how often it looks. */
const STOP_WAIT_MS = 10_000;
const POLL_MS = 100;

/**
 * Deletes a thread of this user with everything in it. Its runs in progress (here or on another instance) are
 * cancelled first and the delete waits until they have ended, so no run goes on writing into a deleted thread.
 */
export async function deleteThread(
  deps: { readonly runs: RunManager; readonly conversations: ConversationStore },
  userId: string,
  threadId: string,
): Promise<void> {
  if ((await deps.conversations.getThread(userId, threadId)) === undefined) throw notFound('thread');
  await stopRuns(deps.runs, userId, threadId);
  await deps.conversations.deleteThread(userId, threadId);
}

/**
 * Cancels the user's runs in progress (of one thread, or all of them), here or on another instance, and waits
 * until they have ended: `thread_busy` when they have not within 10 s.
 */
export async function stopRuns(runs: RunManager, userId: string, threadId?: string): Promise<void> {
  const cancelled = new Set<string>();
  const deadline = Date.now() + STOP_WAIT_MS;
  for (;;) {
    const running = (await runs.activeRuns(userId)).filter((r) => threadId === undefined || r.threadId === threadId);
    if (running.length === 0) return;
    if (Date.now() > deadline) {
      throw new AppError('thread_busy', 'Runs in progress could not be stopped in time: try again shortly.');
    }
    const fresh = running.filter((r) => !cancelled.has(r.runId));
    await Promise.all(fresh.map((r) => cancelQuietly(runs, userId, r.runId)));
    for (const r of fresh) cancelled.add(r.runId);
    await delay(POLL_MS);
  }
}

/** A run that ended meanwhile is what the delete wanted anyway. */
async function cancelQuietly(runs: RunManager, userId: string, runId: string): Promise<void> {
  await runs.cancel(userId, runId).catch((err: unknown) => {
    if (isAppError(err) && (err.code === 'run_finished' || err.code === 'not_found')) return;
    throw err;
  });
}
