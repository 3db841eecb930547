import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
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
      if (err instanceof RateLimiterRes) {
        const retryAfterSeconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        throw new AppError('rate_limited', `Too many attempts: try again in ${retryAfterSeconds} s.`, { retryAfterSeconds });
      }
      throw new AppError('service_unavailable', 'The rate limiter is unavailable.', { cause: err });
    }
  }

  async reset(key: string): Promise<void> {
    await this.limiter.delete(key);
  }
}
