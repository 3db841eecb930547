import { Redis } from 'ioredis';
import { redactUrl } from '../redact-url.js';
import { RedisPubSub } from './pubsub.js';
import { withTimeout } from '../../shared/index.js';

export interface RedisOptions {
  readonly url: string;
  readonly keyPrefix: string;
  /** How long start-up waits for Redis before giving up. */
  readonly connectTimeoutMs?: number;
}

/**
 * The two Redis links of one instance: `commands` fails fast while Redis is unreachable (callers answer 503 rather
 * than queue work behind an outage), and `pubsub` holds the subscriptions, renewing them after a reconnect.
 */
export class RedisConnection {
  private constructor(
    readonly commands: Redis,
    readonly pubsub: RedisPubSub,
    readonly keyPrefix: string,
  ) {}

  static async connect(options: RedisOptions): Promise<RedisConnection> {
    const common = {
      lazyConnect: true,
      connectTimeout: 5_000,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 2_000),
    };
    const commands = new Redis(options.url, {
      ...common,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 2_000,
      // Commands issued in one turn of the event loop leave in one write (many runs' publishes, leases, limits).
      enableAutoPipelining: true,
    });
    const subscriber = new Redis(options.url, { ...common, autoResubscribe: false, maxRetriesPerRequest: null });
    // ioredis reports every failed reconnection attempt as 'error'; the outage itself shows in /health/ready.
    commands.on('error', () => {});
    subscriber.on('error', () => {});
    try {
      await withTimeout(Promise.all([commands.connect(), subscriber.connect()]), options.connectTimeoutMs ?? 10_000);
    } catch (err) {
      commands.disconnect();
      subscriber.disconnect();
      throw new Error(`cannot reach Redis at ${redactUrl(options.url)}`, { cause: err });
    }
    return new RedisConnection(commands, new RedisPubSub(subscriber), options.keyPrefix);
  }

  key(...parts: string[]): string {
    return `${this.keyPrefix}${parts.join(':')}`;
  }

  /** Resolves when Redis answers a PING within a second. */
  async ping(): Promise<void> {
    await withTimeout(this.commands.ping(), 1_000);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.commands.quit(), this.pubsub.close()]);
    this.commands.disconnect();
  }
}
