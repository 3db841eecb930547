import type { ConnectionLeases, Lease } from '../../gateway/index.js';

/** Slots of one process: they cannot outlive it, so they never need renewing. */
export class MemoryConnectionLeases implements ConnectionLeases {
  private readonly byUser = new Map<string, Set<string>>();

  async acquire(lease: Lease, max: number): Promise<boolean> {
    const held = this.byUser.get(lease.userId) ?? new Set<string>();
    if (held.size >= max) return false;
    held.add(lease.connectionId);
    this.byUser.set(lease.userId, held);
    return true;
  }

  async renew(): Promise<void> {}

  async release(lease: Lease): Promise<void> {
    const held = this.byUser.get(lease.userId);
    if (held === undefined) return;
    held.delete(lease.connectionId);
    if (held.size === 0) this.byUser.delete(lease.userId);
  }
}
