import { describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../protocol/index.js';
import type { UserEventBus } from '../../runs/index.js';

const pong = (n: number): ServerMessage => ({ type: 'pong', replyTo: String(n) });

export function userEventBusContract(name: string, create: () => Promise<UserEventBus>): void {
  describe(`UserEventBus contract: ${name}`, () => {
    it('delivers to every subscriber of the user, in publish order, and to no other user', async () => {
      const bus = await create();
      const a1: ServerMessage[] = [];
      const a2: ServerMessage[] = [];
      const b: ServerMessage[] = [];
      bus.subscribe('a', (m) => a1.push(m));
      bus.subscribe('a', (m) => a2.push(m));
      bus.subscribe('b', (m) => b.push(m));
      for (let i = 0; i < 100; i++) bus.publish('a', pong(i));
      await new Promise((r) => setTimeout(r, 50));
      expect(a1.map((m) => (m as { replyTo: string }).replyTo)).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
      expect(a2).toEqual(a1);
      expect(b).toEqual([]);
    });

    it('stops delivering after unsubscribe', async () => {
      const bus = await create();
      const got: ServerMessage[] = [];
      const off = bus.subscribe('u', (m) => got.push(m));
      bus.publish('u', pong(1));
      off();
      bus.publish('u', pong(2));
      await new Promise((r) => setTimeout(r, 50));
      expect(got).toEqual([pong(1)]);
    });
  });
}
