import type { Logger } from 'pino';
import type { AuthService } from '../auth/index.js';
import type { Config } from '../config/index.js';
import type { ConversationStore } from '../runs/index.js';

const HOUR_MS = 3_600_000;
/** Rows one pass deletes at most per kind: a large backlog is worked off over passes, never in one long transaction. */
const BATCH = 1_000;

/**
 * Deletes by age what the settings say (THREAD_RETENTION_DAYS, DEMO_USER_RETENTION_HOURS): at start-up and hourly.
 * Every instance may run it; each pass deletes what is old at that moment, so they never disagree.
 */
export class Retention {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      readonly config: Pick<Config, 'retention'>;
      readonly conversations: ConversationStore;
      readonly auth: AuthService;
      readonly logger: Logger;
      readonly now: () => number;
    },
  ) {}

  /** One pass; resolves with what it deleted. */
  async purge(): Promise<{ threads: number; demoUsers: number }> {
    const { retention } = this.deps.config;
    const now = this.deps.now();
    const threads =
      retention.threadDays === 0
        ? 0
        : await this.deps.conversations.deleteIdleThreads(
            new Date(now - retention.threadDays * 24 * HOUR_MS).toISOString(),
            BATCH,
          );
    const demoUsers = await this.deps.auth.purgeDemoUsers(
      new Date(now - retention.demoUserHours * HOUR_MS).toISOString(),
      BATCH,
    );
    if (threads > 0 || demoUsers > 0) this.deps.logger.info({ threads, demoUsers }, 'deleted by retention settings');
    return { threads, demoUsers };
  }

  start(): void {
    const pass = (): void =>
      void this.purge().catch((err: unknown) => this.deps.logger.warn({ err }, 'retention pass failed'));
    pass();
    this.timer = setInterval(pass, HOUR_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
