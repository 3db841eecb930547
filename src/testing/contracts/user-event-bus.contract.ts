import { describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../protocol/index.js';
import type { UserEventBus, UserEventListener } from '../../runs/index.js';

const pong = (n: number): ServerMessage => ({ type: 'pong', replyTo: String(n) });
const replies = (messages: readonly ServerMessage[]): string[] =>
  messages.map((m) => (m as { replyTo: string }).replyTo);
const settle = (ms = 100) => new Promise((r) => setTimeout(r, ms));

function collector(): UserEventListener & { got: ServerMessage[]; resyncs: number } {
  const c = {
    got: [] as ServerMessage[],
    resyncs: 0,
    message: (m: ServerMessage) => void c.got.push(m),
    resync: () => void (c.resyncs += 1),
  };
  return c;
}

/**
 * The UserEventBus contract. `openCluster(n)` gives n buses that act as n instances of one deployment (for an
 * in-process bus, n handles on one bus); `close` releases them.
 */
export function userEventBusContract(
  name: string,
  openCluster: (n: number) => Promise<{ buses: UserEventBus[]; close(): Promise<void> }>,
): void {
  describe(`UserEventBus contract: ${name}`, () => {
    it('delivers to every subscriber of the user, in publish order, and to no other user', async () => {
      const {
        buses: [bus],
        close,
      } = await openCluster(1);
      const [a1, a2, b] = [collector(), collector(), collector()];
      await Promise.all([bus!.subscribe('a', a1).ready, bus!.subscribe('a', a2).ready, bus!.subscribe('b', b).ready]);
      for (let i = 0; i < 100; i++) bus!.publish('a', pong(i));
      await settle();
      expect(replies(a1.got)).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
      expect(a2.got).toEqual(a1.got);
      expect(b.got).toEqual([]);
      await close();
    });

    it("a message published on any instance reaches the user's subscribers on every instance exactly once, in order", async () => {
      const { buses, close } = await openCluster(3);
      const listeners = buses.map(() => collector());
      const other = collector();
      await Promise.all([
        ...buses.map((bus, i) => bus.subscribe('u', listeners[i]!).ready),
        buses[2]!.subscribe('v', other).ready,
      ]);
      for (let i = 0; i < 60; i++) buses[i % 3]!.publish('u', pong(i));
      await settle(200);
      for (const l of listeners) {
        // Per publishing instance, publish order holds.
        for (let from = 0; from < 3; from++) {
          const own = replies(l.got).filter((r) => Number(r) % 3 === from);
          expect(own).toEqual(Array.from({ length: 20 }, (_, k) => String(k * 3 + from)));
        }
        expect(l.got).toHaveLength(60);
      }
      expect(other.got).toEqual([]);
      await close();
    });

    it('stops delivering after unsubscribe, on every instance', async () => {
      const { buses, close } = await openCluster(2);
      const here = collector();
      const there = collector();
      const subHere = buses[0]!.subscribe('w', here);
      const subThere = buses[1]!.subscribe('w', there);
      await Promise.all([subHere.ready, subThere.ready]);
      buses[0]!.publish('w', pong(1));
      await settle();
      subHere.unsubscribe();
      subThere.unsubscribe();
      buses[0]!.publish('w', pong(2));
      buses[1]!.publish('w', pong(3));
      await settle();
      expect(here.got).toEqual([pong(1)]);
      expect(there.got).toEqual([pong(1)]);
      await close();
    });
  });
}
