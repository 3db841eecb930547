import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { AttemptLimiter } from '../../auth/index.js';
import { AppError } from '../../errors/index.js';

/** A fixed-window limiter backed by rate-limiter-flexible's memory store. */
export class MemoryAttemptLimiter implements AttemptLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(options: { points: number; durationSeconds: number; keyPrefix: string }) {
    this.limiter = new RateLimiterMemory({ points: options.points, duration: options.durationSeconds, keyPrefix: options.keyPrefix });
  }

  async consume(key: string): Promise<void> {
    try {
      await this.limiter.consume(key);
    } catch (err) {
      throw limitError(err);
    }
  }

  async reset(key: string): Promise<void> {
    await this.limiter.delete(key);
  }
}

/**
 * A sustained rate plus a burst allowance (rate-limiter-flexible's BurstyRateLimiter): `perSecond` points a second,
 * and `burst` more that refill over `burstWindowSeconds`.
 */
export class MemoryBurstLimiter implements AttemptLimiter {
  private readonly limiter: BurstyRateLimiter;
  private readonly parts: readonly RateLimiterMemory[];

  constructor(options: { perSecond: number; burst: number; burstWindowSeconds: number; keyPrefix: string }) {
    const sustained = new RateLimiterMemory({ points: options.perSecond, duration: 1, keyPrefix: options.keyPrefix });
    const burst = new RateLimiterMemory({ points: Math.max(1, options.burst), duration: options.burstWindowSeconds, keyPrefix: `${options.keyPrefix}-burst` });
    this.limiter = new BurstyRateLimiter(sustained, burst);
    this.parts = [sustained, burst];
  }

  async consume(key: string): Promise<void> {
    try {
      await this.limiter.consume(key);
    } catch (err) {
      throw limitError(err);
    }
  }

  async reset(key: string): Promise<void> {
    await Promise.all(this.parts.map((p) => p.delete(key)));
  }
}

function limitError(err: unknown): AppError {
  if (err instanceof RateLimiterRes) {
    const retryAfterSeconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
    return new AppError('rate_limited', `Too many attempts: try again in ${retryAfterSeconds} s.`, { retryAfterSeconds });
  }
  return new AppError('service_unavailable', 'The rate limiter is unavailable.', { cause: err });
}
