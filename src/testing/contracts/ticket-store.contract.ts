import { describe, expect, it } from 'vitest';
import type { TicketStore } from '../../auth/index.js';

const record = (expiresAt: number) => ({ userId: 'u1', sessionId: 's1', tokenExpiresAt: 2_000_000_000, expiresAt });

/** The TicketStore contract, run against every implementation. */
export function ticketStoreContract(name: string, create: () => Promise<TicketStore & { close?: () => void }>): void {
  describe(`TicketStore contract: ${name}`, () => {
    it('returns a ticket once, then never again', async () => {
      const store = await create();
      const stored = record(Date.now() + 60_000);
      await store.put('h1', stored);
      expect(await store.consume('h1', Date.now())).toEqual(stored);
      expect(await store.consume('h1', Date.now())).toBeUndefined();
      store.close?.();
    });

    it('gives an expired ticket to no one', async () => {
      const store = await create();
      const now = Date.now();
      await store.put('h2', record(now + 1_000));
      expect(await store.consume('h2', now + 1_000)).toBeUndefined();
      store.close?.();
    });

    it('lets exactly one of 50 concurrent consumers win', async () => {
      const store = await create();
      await store.put('h3', record(Date.now() + 60_000));
      const results = await Promise.all(Array.from({ length: 50 }, () => store.consume('h3', Date.now())));
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      store.close?.();
    });

    it('does not confuse tickets', async () => {
      const store = await create();
      await store.put('a', { ...record(Date.now() + 60_000), userId: 'ua' });
      await store.put('b', { ...record(Date.now() + 60_000), userId: 'ub' });
      expect((await store.consume('b', Date.now()))?.userId).toBe('ub');
      expect((await store.consume('a', Date.now()))?.userId).toBe('ua');
      expect(await store.consume('c', Date.now())).toBeUndefined();
      store.close?.();
    });
  });
}
