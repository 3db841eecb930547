/**
 * Runs of one thread execute one after another, in submission order. A queued run whose signal aborts
 * stops waiting, so a cancel never waits behind a long run.
 */
export class ThreadQueue {
  private readonly tails = new Map<string, Promise<void>>();

  enqueue(threadId: string, signal: AbortSignal, task: () => Promise<void>): void {
    const previous = this.tails.get(threadId) ?? Promise.resolve();
    const next = untilAborted(previous, signal).then(task, task);
    const tail = next.catch(() => {});
    this.tails.set(threadId, tail);
    void tail.then(() => {
      if (this.tails.get(threadId) === tail) this.tails.delete(threadId);
    });
  }

  /** Resolves when the queues of these threads are empty. */
  async drain(threadIds: readonly string[]): Promise<void> {
    for (;;) {
      const tails = threadIds.map((id) => this.tails.get(id)).filter((t): t is Promise<void> => t !== undefined);
      if (tails.length === 0) return;
      await Promise.all(tails);
    }
  }
}

function untilAborted(previous: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void previous.then(done, done);
  });
}
