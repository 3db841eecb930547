import type { ServerMessage } from '../../protocol/index.js';
import type { UserEventBus } from '../../runs/index.js';

type Listener = (message: ServerMessage) => void;

/** In-process fan-out by user id. Delivery is synchronous, so per-user order is publish order. */
export class MemoryUserEventBus implements UserEventBus {
  private readonly listeners = new Map<string, Set<Listener>>();

  publish(userId: string, message: ServerMessage): void {
    const set = this.listeners.get(userId);
    if (set === undefined) return;
    for (const listener of [...set]) listener(message);
  }

  subscribe(userId: string, listener: Listener): () => void {
    let set = this.listeners.get(userId);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(userId, set);
    }
    set.add(listener);
    return () => {
      const current = this.listeners.get(userId);
      if (current === undefined) return;
      current.delete(listener);
      if (current.size === 0) this.listeners.delete(userId);
    };
  }
}
