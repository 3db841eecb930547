import { describe, expect, it } from 'vitest';
import type { RevocationBus } from '../../auth/index.js';

const settle = (ms = 100) => new Promise((r) => setTimeout(r, ms));

/** The contract of the broadcast channels (RevocationBus, RunControlBus): n handles act as n instances. */
export function broadcastContract(
  name: string,
  openCluster: (n: number) => Promise<{ channels: RevocationBus[]; close(): Promise<void> }>,
): void {
  describe(`Broadcast contract (revocations, cancel requests): ${name}`, () => {
    it('a message published on any instance reaches every listener on every instance once, in order', async () => {
      const { channels, close } = await openCluster(3);
      const heard = channels.map(() => [] as string[]);
      const offs = channels.map((c, i) => c.subscribe((p) => heard[i]!.push(p)));
      await channels[0]!.publish('one');
      await channels[2]!.publish('two');
      await settle();
      for (const h of heard) expect(h).toEqual(['one', 'two']);
      offs[1]!();
      await channels[0]!.publish('three');
      await settle();
      expect(heard[1]).toEqual(['one', 'two']);
      expect(heard[0]).toEqual(['one', 'two', 'three']);
      await close();
    });
  });
}
