import { AppError } from '../errors/index.js';

export interface CapacityOptions {
  /** MAX_ACTIVE_RUNS: runs in progress (or being admitted) on this instance. */
  readonly maxActiveRuns: number;
  /** DATABASE_QUEUE_LIMIT: statements waiting for a database connection. */
  readonly databaseQueueLimit: number;
  /** Statements waiting for a database connection now (always 0 on SQLite, which has no pool). */
  readonly queuedStatements: () => number;
}

/** How soon a refused client may try again: the database queue drains in well under a second when it can. */
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
    const { maxActiveRuns, databaseQueueLimit, queuedStatements } = this.options;
    if (activeRuns >= maxActiveRuns) {
      throw overloaded(`This server has ${activeRuns} runs in progress, its limit (MAX_ACTIVE_RUNS).`);
    }
    const queued = queuedStatements();
    if (queued >= databaseQueueLimit) {
      throw overloaded(`${queued} database statements are waiting for a connection (DATABASE_QUEUE_LIMIT).`);
    }
  }
}

const overloaded = (why: string): AppError =>
  new AppError('overloaded', `${why} Nothing was started: try again in a moment.`, {
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });
