import { AppError } from '../errors/index.js';

export interface CapacityOptions {
  /** MAX_ACTIVE_RUNS: runs in progress (or being admitted) on this instance. */
  readonly maxActiveRuns: number;
  /** DATABASE_QUEUE_WAIT_MS: how long a statement may have waited for a database connection. */
  readonly databaseWaitLimitMs: number;
  /** How long the oldest statement waiting for a database connection has waited (always 0 on SQLite: no pool). */
  readonly databaseWaitMs: () => number;
}

/** How soon a refused client may try again: a queue that keeps its statements waiting this long drains meanwhile. */
const RETRY_AFTER_SECONDS = 1;

/**
 * An instance past its capacity refuses new runs at once, before they touch the database, instead of queueing them
 * behind work it cannot finish in time: the runs it took keep the pool's wait short (a pool timeout becomes
 * unlikely, though work already admitted can still queue), and a refused client knows to retry (elsewhere, behind a
 * load balancer) after `retryAfterSeconds`.
 */
export class Capacity {
  constructor(private readonly options: CapacityOptions) {}

  /** Throws `overloaded` when a new run should not be admitted now. */
  admit(activeRuns: number): void {
    const { maxActiveRuns, databaseWaitLimitMs, databaseWaitMs } = this.options;
    if (activeRuns >= maxActiveRuns) {
      throw overloaded(`This server has ${activeRuns} runs in progress, its limit (MAX_ACTIVE_RUNS).`);
    }
    // The wait, not the length of the queue: how many statements a pool gets through in a second depends on the
    // machine, while the wait is what a client feels (and what the pool's 5 s connection timeout bounds).
    const waited = databaseWaitMs();
    if (waited > databaseWaitLimitMs) {
      throw overloaded(
        `A database statement has waited ${waited} ms for a connection, past DATABASE_QUEUE_WAIT_MS (${databaseWaitLimitMs} ms).`,
      );
    }
  }
}

const overloaded = (why: string): AppError =>
  new AppError('overloaded', `${why} Nothing was started: try again in a moment.`, {
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });
