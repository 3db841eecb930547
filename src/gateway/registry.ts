import type { UserEventBus } from '../runs/index.js';
import type { Connection } from './connection.js';
import type { CloseKind } from '../errors/index.js';

/** Open connections by user. Each user with a connection here has one subscription on the event bus. */
export class ConnectionRegistry {
  private readonly byUser = new Map<string, { connections: Set<Connection>; unsubscribe: () => void }>();
  /** Upgrades authenticated but not yet open: they hold a slot so concurrent upgrades cannot overshoot the limit. */
  private readonly reserved = new Map<string, number>();
  private total = 0;

  constructor(private readonly bus: UserEventBus) {}

  /** Takes a connection slot for the user if fewer than `max` are open or reserved; false when none is left. */
  reserve(userId: string, max: number): boolean {
    const held = this.countFor(userId) + (this.reserved.get(userId) ?? 0);
    if (held >= max) return false;
    this.reserved.set(userId, (this.reserved.get(userId) ?? 0) + 1);
    return true;
  }

  /** Gives back a reserved slot (the upgrade failed, or add() took it over). */
  release(userId: string): void {
    const n = (this.reserved.get(userId) ?? 0) - 1;
    if (n > 0) this.reserved.set(userId, n);
    else this.reserved.delete(userId);
  }

  add(conn: Connection): void {
    let entry = this.byUser.get(conn.userId);
    if (entry === undefined) {
      const connections = new Set<Connection>();
      const unsubscribe = this.bus.subscribe(conn.userId, (message) => {
        for (const c of connections) c.deliver(message);
      });
      entry = { connections, unsubscribe };
      this.byUser.set(conn.userId, entry);
    }
    if (!entry.connections.has(conn)) {
      entry.connections.add(conn);
      this.total += 1;
    }
  }

  remove(conn: Connection): void {
    const entry = this.byUser.get(conn.userId);
    if (entry === undefined || !entry.connections.delete(conn)) return;
    this.total -= 1;
    if (entry.connections.size === 0) {
      entry.unsubscribe();
      this.byUser.delete(conn.userId);
    }
  }

  get count(): number {
    return this.total;
  }

  countFor(userId: string): number {
    return this.byUser.get(userId)?.connections.size ?? 0;
  }

  all(): Connection[] {
    return [...this.byUser.values()].flatMap((e) => [...e.connections]);
  }

  closeSession(sessionId: string, kind: CloseKind): number {
    let closed = 0;
    for (const conn of this.all()) {
      if (conn.sessionId === sessionId) {
        conn.close(kind);
        closed += 1;
      }
    }
    return closed;
  }
}
