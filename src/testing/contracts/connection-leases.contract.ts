import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ConnectionLeases } from '../../gateway/index.js';

const lease = (userId: string) => ({ userId, connectionId: randomUUID() });

/**
 * The ConnectionLeases contract: n handles act as n instances. With `leaseMs`, leases that are not renewed must
 * expire after it (shared stores); without, the implementation lives and dies with its process.
 */
export function connectionLeasesContract(
  name: string,
  openCluster: (n: number) => Promise<{ leases: ConnectionLeases[]; close(): Promise<void> }>,
  leaseMs?: number,
): void {
  describe(`ConnectionLeases contract: ${name}`, () => {
    it('the per-user limit holds across instances, per user; a release frees a slot', async () => {
      const {
        leases: [a, b],
        close,
      } = await openCluster(2);
      const first = lease('u');
      expect(await a!.acquire(first, 3)).toBe(true);
      expect(await b!.acquire(lease('u'), 3)).toBe(true);
      expect(await a!.acquire(lease('u'), 3)).toBe(true);
      expect(await b!.acquire(lease('u'), 3)).toBe(false);
      expect(await b!.acquire(lease('other'), 3)).toBe(true);
      await a!.release(first);
      expect(await b!.acquire(lease('u'), 3)).toBe(true);
      await close();
    });

    it('of many concurrent acquisitions exactly `max` succeed', async () => {
      const { leases, close } = await openCluster(2);
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => leases[i % 2]!.acquire(lease('race'), 7)));
      expect(results.filter(Boolean)).toHaveLength(7);
      await close();
    });

    it.runIf(leaseMs !== undefined)('leases that are renewed stay; leases of a silent instance expire', async () => {
      const {
        leases: [a, b],
        close,
      } = await openCluster(2);
      const kept = lease('x');
      expect(await a!.acquire(kept, 2)).toBe(true);
      expect(await b!.acquire(lease('x'), 2)).toBe(true);
      const deadline = Date.now() + leaseMs! * 2.5;
      while (Date.now() < deadline) {
        await a!.renew([kept]);
        await new Promise((r) => setTimeout(r, leaseMs! / 4));
      }
      // b never renewed: its slot expired, a's did not.
      expect(await b!.acquire(lease('x'), 2)).toBe(true);
      expect(await b!.acquire(lease('x'), 2)).toBe(false);
      await close();
    });
  });
}
