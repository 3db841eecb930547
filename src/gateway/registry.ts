import type { CloseKind } from '../protocol/index.js';
import type { Subscription, UserEventBus } from '../runs/index.js';
import type { Connection } from './connection.js';

/** Open connections by user. Each user with a connection here has one subscription on the event bus. */
export class ConnectionRegistry {
  private readonly byUser = new Map<string, { connections: Set<Connection>; subscription: Subscription }>();
  private total = 0;

  /** `onResync` is told which connections may have missed bus messages (the bus's link broke and came back). */
  constructor(
    private readonly bus: UserEventBus,
    private readonly onResync: (connections: readonly Connection[]) => void,
  ) {}

  /** Resolves once the connection receives every message published from now on, on any instance. */
  add(conn: Connection): Promise<void> {
    let entry = this.byUser.get(conn.userId);
    if (entry === undefined) {
      const connections = new Set<Connection>();
      const subscription = this.bus.subscribe(conn.userId, {
        message: (message) => {
          for (const c of connections) c.deliver(message);
        },
        resync: () => this.onResync([...connections]),
      });
      entry = { connections, subscription };
      this.byUser.set(conn.userId, entry);
    }
    if (!entry.connections.has(conn)) {
      entry.connections.add(conn);
      this.total += 1;
    }
    return entry.subscription.ready;
  }

  remove(conn: Connection): void {
    const entry = this.byUser.get(conn.userId);
    if (entry === undefined || !entry.connections.delete(conn)) return;
    this.total -= 1;
    if (entry.connections.size === 0) {
      entry.subscription.unsubscribe();
      this.byUser.delete(conn.userId);
    }
  }

  get count(): number {
    return this.total;
  }

  countFor(userId: string): number {
    return this.byUser.get(userId)?.connections.size ?? 0;
  }

  /** Every connection, without copying them into an array first. */
  *each(): Generator<Connection> {
    for (const entry of this.byUser.values()) yield* entry.connections;
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
