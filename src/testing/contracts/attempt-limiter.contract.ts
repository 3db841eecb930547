import { describe, expect, it } from 'vitest';
import type { AttemptLimiter } from '../../auth/index.js';

/** The AttemptLimiter contract for a limiter of `points` attempts per key per window. */
export function attemptLimiterContract(name: string, create: (points: number) => Promise<AttemptLimiter>): void {
  describe(`AttemptLimiter contract: ${name}`, () => {
    it('admits `points` attempts per key, then refuses with rate_limited and a Retry-After of at least 1 s', async () => {
      const limiter = await create(3);
      for (let i = 0; i < 3; i++) await limiter.consume('k');
      const refusal = limiter.consume('k');
      await expect(refusal).rejects.toMatchObject({ code: 'rate_limited' });
      expect(
        ((await refusal.catch((e: unknown) => e)) as { retryAfterSeconds: number }).retryAfterSeconds,
      ).toBeGreaterThanOrEqual(1);
    });

    it('counts keys apart, and reset gives a key its allowance back', async () => {
      const limiter = await create(1);
      await limiter.consume('a');
      await limiter.consume('b');
      await expect(limiter.consume('a')).rejects.toMatchObject({ code: 'rate_limited' });
      await limiter.reset('a');
      await expect(limiter.consume('a')).resolves.toBeUndefined();
      await expect(limiter.consume('b')).rejects.toMatchObject({ code: 'rate_limited' });
    });

    it('admits exactly `points` of many concurrent attempts', async () => {
      const limiter = await create(5);
      const results = await Promise.allSettled(Array.from({ length: 40 }, () => limiter.consume('race')));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    });
  });
}
