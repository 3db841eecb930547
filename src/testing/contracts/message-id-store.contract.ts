import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { MessageIdStore } from '../../runs/index.js';

/** The MessageIdStore contract: n handles act as n instances sharing the store. */
export function messageIdStoreContract(
  name: string,
  openCluster: (n: number) => Promise<{ stores: MessageIdStore[]; close(): Promise<void> }>,
): void {
  describe(`MessageIdStore contract: ${name}`, () => {
    it('the first claim wins; others see pending, then the settled ack; a released claim can be taken again', async () => {
      const {
        stores: [a, b],
        close,
      } = await openCluster(2);
      const key = randomUUID();
      expect(await a!.claim(key, 60_000)).toEqual({ kind: 'claimed' });
      expect(await b!.claim(key, 60_000)).toEqual({ kind: 'pending' });
      await a!.settle(key, { threadId: 't1', runId: 'r1' }, 60_000);
      expect(await b!.claim(key, 60_000)).toEqual({ kind: 'accepted', ack: { threadId: 't1', runId: 'r1' } });
      const refused = randomUUID();
      expect(await b!.claim(refused, 60_000)).toEqual({ kind: 'claimed' });
      await b!.release(refused);
      expect(await a!.claim(refused, 60_000)).toEqual({ kind: 'claimed' });
      await close();
    });

    it('of many concurrent claims of one key on several instances exactly one is claimed', async () => {
      const { stores, close } = await openCluster(3);
      const key = randomUUID();
      const claims = await Promise.all(Array.from({ length: 30 }, (_, i) => stores[i % 3]!.claim(key, 60_000)));
      expect(claims.filter((c) => c.kind === 'claimed')).toHaveLength(1);
      await close();
    });

    it('a claim lapses after its ttl, a settled ack after the ttl given to settle', async () => {
      const {
        stores: [a],
        close,
      } = await openCluster(1);
      const key = randomUUID();
      expect(await a!.claim(key, 150)).toEqual({ kind: 'claimed' });
      await new Promise((r) => setTimeout(r, 250));
      expect(await a!.claim(key, 60_000)).toEqual({ kind: 'claimed' });
      await a!.settle(key, { threadId: 't', runId: 'r' }, 150);
      await new Promise((r) => setTimeout(r, 250));
      expect(await a!.claim(key, 60_000)).toEqual({ kind: 'claimed' });
      await close();
    });
  });
}
