import { AppError } from '../../errors/index.js';
import type { Usage } from '../../protocol/index.js';

const HOUR_MS = 3_600_000;

/**
 * Tokens each user has spent on model calls, in hourly buckets (UTC hours, aligned to the Unix epoch). Durable and
 * shared by every instance: SQL on SQLite or PostgreSQL, memory in unit tests.
 */
export interface TokenUsageStore {
  /**
   * Adds `usage` to the user's bucket for the hour containing `at`. An atomic increment: concurrent adds, from this
   * instance or any other, are all counted. Adding zero tokens may be skipped.
   */
  add(userId: string, usage: Usage, at: Date): Promise<void>;
  /** Input plus output tokens in the user's buckets for the hour containing `since` and every later hour. */
  totalSince(userId: string, since: Date): Promise<number>;
}

export interface TokenBudgetSettings {
  /** Tokens (input + output) a user may use per window; 0 means unlimited. */
  readonly perUser: number;
  /** Window length in hours; windows are aligned to the Unix epoch, so 24 is a UTC day. */
  readonly windowHours: number;
}

/**
 * The per-user token budget: checked before every model call, fed after every step. A soft limit: runs of one user
 * that are in flight at the same time may together overshoot it by what their current steps use.
 */
export class TokenBudget {
  constructor(
    private readonly store: TokenUsageStore,
    private readonly settings: TokenBudgetSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws `token_budget_exceeded` when the user has no tokens left in the current window. */
  async check(userId: string): Promise<void> {
    if (this.settings.perUser === 0) return;
    const { start, end } = this.window();
    let used: number;
    try {
      used = await this.store.totalSince(userId, start);
    } catch (err) {
      // Fail closed: without the count there is no way to tell whether the model may be called.
      throw new AppError('service_unavailable', 'Token usage cannot be checked right now: try again shortly.', {
        cause: err,
      });
    }
    if (used < this.settings.perUser) return;
    throw new AppError(
      'token_budget_exceeded',
      `You have used ${used} of your ${this.settings.perUser} tokens for this period. The budget resets at ${end.toISOString()}.`,
      { retryAfterSeconds: Math.max(1, Math.ceil((end.getTime() - this.now()) / 1000)) },
    );
  }

  /** Records what one model step used (even a step that failed part-way: what was reported was spent). */
  record(userId: string, usage: Usage): Promise<void> {
    if (usage.inputTokens === 0 && usage.outputTokens === 0) return Promise.resolve();
    return this.store.add(userId, usage, new Date(this.now()));
  }

  private window(): { start: Date; end: Date } {
    const length = this.settings.windowHours * HOUR_MS;
    const start = Math.floor(this.now() / length) * length;
    return { start: new Date(start), end: new Date(start + length) };
  }
}

/** The start of the UTC hour containing `at`, as an ISO string: the bucket key stores use. */
export function hourBucketOf(at: Date): string {
  return new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS).toISOString();
}
