import type { ServerMessage } from '../../protocol/index.js';
import type { Subscription, UserEventBus, UserEventListener } from '../../runs/index.js';

/** In-process fan-out by user id. Delivery is synchronous, so per-user order is publish order. */
export class MemoryUserEventBus implements UserEventBus {
  private readonly listeners = new Map<string, Set<UserEventListener>>();

  publish(userId: string, message: ServerMessage): void {
    const set = this.listeners.get(userId);
    if (set === undefined) return;
    for (const listener of [...set]) listener.message(message);
  }

  subscribe(userId: string, listener: UserEventListener): Subscription {
    let set = this.listeners.get(userId);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(userId, set);
    }
    set.add(listener);
    return {
      ready: Promise.resolve(),
      unsubscribe: () => {
        const current = this.listeners.get(userId);
        if (current === undefined) return;
        current.delete(listener);
        if (current.size === 0) this.listeners.delete(userId);
      },
    };
  }

  /** Listeners of one user on this instance. */
  localListeners(userId: string): readonly UserEventListener[] {
    return [...(this.listeners.get(userId) ?? [])];
  }

  allListeners(): UserEventListener[] {
    return [...this.listeners.values()].flatMap((set) => [...set]);
  }
}
