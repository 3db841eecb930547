import {
  BurstyRateLimiter,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { AttemptLimiter } from '../auth/index.js';
import { AppError } from '../errors/index.js';
import type { RedisConnection } from './redis/connection.js';

/**
 * An AttemptLimiter over rate-limiter-flexible, in memory (one instance) or in Redis (shared by all instances).
 * A store that cannot answer fails closed: `service_unavailable`, never an unlimited pass.
 */
export class FlexibleAttemptLimiter implements AttemptLimiter {
  private constructor(
    private readonly limiter: { consume(key: string): Promise<unknown> },
    private readonly parts: readonly RateLimiterAbstract[],
  ) {}

  /** `points` attempts per key in a fixed window of `durationSeconds`; in Redis when one is given. */
  static fixedWindow(options: {
    points: number;
    durationSeconds: number;
    keyPrefix: string;
    redis?: RedisConnection | undefined;
  }): FlexibleAttemptLimiter {
    const { points, durationSeconds: duration, redis } = options;
    const limiter =
      redis === undefined
        ? new RateLimiterMemory({ points, duration, keyPrefix: options.keyPrefix })
        : new RateLimiterRedis({
            storeClient: redis.commands,
            rejectIfRedisNotReady: true,
            points,
            duration,
            keyPrefix: redis.key('limit', options.keyPrefix),
          });
    return new FlexibleAttemptLimiter(limiter, [limiter]);
  }

  /**
   * A sustained rate plus a burst allowance (BurstyRateLimiter): `perSecond` points a second, and `burst` more
   * that refill over `burstWindowSeconds`.
   */
  static withBurst(options: {
    perSecond: number;
    burst: number;
    burstWindowSeconds: number;
    keyPrefix: string;
  }): FlexibleAttemptLimiter {
    const sustained = new RateLimiterMemory({ points: options.perSecond, duration: 1, keyPrefix: options.keyPrefix });
    const burst = new RateLimiterMemory({
      points: Math.max(1, options.burst),
      duration: options.burstWindowSeconds,
      keyPrefix: `${options.keyPrefix}-burst`,
    });
    return new FlexibleAttemptLimiter(new BurstyRateLimiter(sustained, burst), [sustained, burst]);
  }

  async consume(key: string): Promise<void> {
    try {
      await this.limiter.consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        const retryAfterSeconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        throw new AppError('rate_limited', `Too many attempts: try again in ${retryAfterSeconds} s.`, {
          retryAfterSeconds,
        });
      }
      throw new AppError('service_unavailable', 'The rate limiter is unavailable.', { cause: err });
    }
  }

  async reset(key: string): Promise<void> {
    await Promise.all(this.parts.map((p) => p.delete(key)));
  }
}
