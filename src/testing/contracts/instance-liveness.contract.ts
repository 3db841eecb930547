import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { InstanceLiveness } from '../../runs/index.js';

export interface LivenessHandle extends InstanceLiveness {
  stop(): Promise<void>;
  /** Shared stores: the instance dies without a word (its key is gone, nothing renews it). */
  crash?(): Promise<void>;
  /** Shared stores: the store forgets the instance while it goes on (Redis restarted empty). */
  vanish?(): Promise<void>;
}

/**
 * The InstanceLiveness contract: `open()` starts one more instance sharing the same store, with a lease of
 * `leaseMs` (shared stores).
 */
export function instanceLivenessContract(
  name: string,
  open: () => Promise<LivenessHandle>,
  shared: false | { readonly leaseMs: number },
): void {
  describe(`InstanceLiveness contract: ${name}`, () => {
    it('an instance is alive to itself; an id that never started is not, once it has been missing a lease', async () => {
      const a = await open();
      const alive = await a.alive([a.instanceId, 'never-started']);
      if (shared) {
        await delay(shared.leaseMs + 50);
        expect([...(await a.alive([a.instanceId, 'never-started']))]).toEqual([a.instanceId]);
      } else expect([...alive]).toEqual([a.instanceId]);
      expect(a.alone).toBe(!shared);
      await a.stop();
    });

    it.runIf(shared)('instances see each other while they run, and not after one stops (at once)', async () => {
      const a = await open();
      const b = await open();
      expect(await a.alive([b.instanceId])).toEqual(new Set([a.instanceId, b.instanceId]));
      await b.stop();
      expect(await a.alive([b.instanceId])).toEqual(new Set([a.instanceId]));
      await a.stop();
    });

    it.runIf(shared)('a crashed instance is dead once it has been missing a full lease, not before', async () => {
      const leaseMs = shared ? shared.leaseMs : 0;
      const a = await open();
      const b = await open();
      await b.crash?.();
      expect(await a.alive([b.instanceId]), 'just missing').toEqual(new Set([a.instanceId, b.instanceId]));
      await delay(leaseMs / 2);
      expect(await a.alive([b.instanceId]), 'missing half a lease').toEqual(new Set([a.instanceId, b.instanceId]));
      await delay(leaseMs / 2 + 50);
      expect(await a.alive([b.instanceId]), 'missing a lease').toEqual(new Set([a.instanceId]));
      await a.stop();
    });

    it.runIf(shared)(
      'an instance the store forgot (Redis restarted empty) is never taken for dead: it is back within a lease',
      async () => {
        const leaseMs = shared ? shared.leaseMs : 0;
        const a = await open();
        const b = await open();
        await b.vanish?.();
        const deadline = Date.now() + 2 * leaseMs;
        while (Date.now() < deadline) {
          expect(await a.alive([b.instanceId])).toEqual(new Set([a.instanceId, b.instanceId]));
          await delay(leaseMs / 10);
        }
        await Promise.all([a.stop(), b.stop()]);
      },
    );
  });
}
