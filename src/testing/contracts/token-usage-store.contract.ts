import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TokenUsageStore } from '../../agents/index.js';

const HOUR = 3_600_000;
/** A fixed hour, so bucket edges are known: 2030-01-01T10:00:00Z. */
const T0 = Date.UTC(2030, 0, 1, 10);

/** The TokenUsageStore contract: n handles act as n instances sharing the store. */
export function tokenUsageStoreContract(
  name: string,
  openCluster: (n: number) => Promise<{ stores: TokenUsageStore[]; close(): Promise<void> }>,
): void {
  describe(`TokenUsageStore contract: ${name}`, () => {
    it("sums input and output tokens per user, and users never see each other's usage", async () => {
      const {
        stores: [store],
        close,
      } = await openCluster(1);
      const [a, b] = [randomUUID(), randomUUID()];
      await store!.add(a, { inputTokens: 100, outputTokens: 20 }, new Date(T0 + 5_000));
      await store!.add(a, { inputTokens: 7, outputTokens: 3 }, new Date(T0 + 50 * 60_000));
      await store!.add(b, { inputTokens: 1, outputTokens: 1 }, new Date(T0));
      expect(await store!.totalSince(a, new Date(T0))).toBe(130);
      expect(await store!.totalSince(b, new Date(T0))).toBe(2);
      expect(await store!.totalSince(randomUUID(), new Date(T0))).toBe(0);
      await close();
    });

    it('counts the hour containing `since` and later hours, not earlier ones', async () => {
      const {
        stores: [store],
        close,
      } = await openCluster(1);
      const user = randomUUID();
      await store!.add(user, { inputTokens: 1, outputTokens: 0 }, new Date(T0 - 1)); // 09:59:59.999
      await store!.add(user, { inputTokens: 10, outputTokens: 0 }, new Date(T0)); // 10:00
      await store!.add(user, { inputTokens: 100, outputTokens: 0 }, new Date(T0 + 25 * HOUR));
      expect(await store!.totalSince(user, new Date(T0 + 30 * 60_000))).toBe(110);
      expect(await store!.totalSince(user, new Date(T0 - HOUR))).toBe(111);
      expect(await store!.totalSince(user, new Date(T0 + HOUR))).toBe(100);
      expect(await store!.totalSince(user, new Date(T0 + 26 * HOUR))).toBe(0);
      await close();
    });

    it('concurrent adds from several instances into one bucket are all counted', async () => {
      const { stores, close } = await openCluster(3);
      const user = randomUUID();
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          stores[i % 3]!.add(user, { inputTokens: 3, outputTokens: 2 }, new Date(T0 + i)),
        ),
      );
      expect(await stores[0]!.totalSince(user, new Date(T0))).toBe(150);
      await close();
    });

    it('keeps totals beyond 32 bits', async () => {
      const {
        stores: [store],
        close,
      } = await openCluster(1);
      const user = randomUUID();
      await store!.add(user, { inputTokens: 3_000_000_000, outputTokens: 2_000_000_000 }, new Date(T0));
      await store!.add(user, { inputTokens: 3_000_000_000, outputTokens: 0 }, new Date(T0 + 1));
      expect(await store!.totalSince(user, new Date(T0))).toBe(8_000_000_000);
      await close();
    });
  });
}
