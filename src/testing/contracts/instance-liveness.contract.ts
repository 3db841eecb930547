import { describe, expect, it } from 'vitest';
import type { InstanceLiveness } from '../../runs/index.js';

export interface LivenessHandle extends InstanceLiveness {
  stop(): Promise<void>;
}

/** The InstanceLiveness contract: `open()` starts one more instance sharing the same store. */
export function instanceLivenessContract(name: string, open: () => Promise<LivenessHandle>, shared: boolean): void {
  describe(`InstanceLiveness contract: ${name}`, () => {
    it('an instance is alive to itself; an id that never started is not', async () => {
      const a = await open();
      expect([...(await a.alive([a.instanceId, 'never-started']))]).toEqual([a.instanceId]);
      expect(a.alone).toBe(!shared);
      await a.stop();
    });

    it.runIf(shared)('instances see each other while they run, and not after one stops', async () => {
      const a = await open();
      const b = await open();
      expect(await a.alive([b.instanceId])).toEqual(new Set([a.instanceId, b.instanceId]));
      await b.stop();
      expect(await a.alive([b.instanceId])).toEqual(new Set([a.instanceId]));
      await a.stop();
    });
  });
}
