import type { Accepted, MessageIdClaim, MessageIdStore } from '../../runs/index.js';

interface Entry {
  readonly ack: Accepted | undefined;
  readonly expiresAt: number;
}

/** Entries in the order they were stored: for one TTL, that is the order in which they expire. */
class ExpiryQueue {
  private items: { key: string; entry: Entry }[] = [];
  private head = 0;

  push(key: string, entry: Entry): void {
    this.items.push({ key, entry });
  }

  /** Removes from the front every item expired at nowMs, handing each to `expire`. */
  popExpired(nowMs: number, expire: (key: string, entry: Entry) => void): void {
    while (this.head < this.items.length && this.items[this.head]!.entry.expiresAt <= nowMs) {
      const { key, entry } = this.items[this.head++]!;
      expire(key, entry);
    }
    // Drop the consumed front now and then, not on every pop (that would copy the array each time).
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * One process's accepted message ids. Expired entries go as new ones arrive: one queue per TTL keeps them in expiry
 * order, so each claim removes only what has expired instead of walking every id of the 15-minute window (which,
 * at a thousand messages a second, is most of a million).
 */
export class MemoryMessageIdStore implements MessageIdStore {
  private readonly entries = new Map<string, Entry>();
  private readonly expiries = new Map<number, ExpiryQueue>();

  constructor(private readonly now: () => number = Date.now) {}

  async claim(key: string, ttlMs: number): Promise<MessageIdClaim> {
    const nowMs = this.now();
    this.sweep(nowMs);
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.expiresAt > nowMs)
      return entry.ack === undefined ? { kind: 'pending' } : { kind: 'accepted', ack: entry.ack };
    this.store(key, { ack: undefined, expiresAt: nowMs + ttlMs }, ttlMs);
    return { kind: 'claimed' };
  }

  async settle(key: string, ack: Accepted, ttlMs: number): Promise<void> {
    this.store(key, { ack, expiresAt: this.now() + ttlMs }, ttlMs);
  }

  async release(key: string): Promise<void> {
    this.entries.delete(key);
  }

  private store(key: string, entry: Entry, ttlMs: number): void {
    this.entries.set(key, entry);
    let queue = this.expiries.get(ttlMs);
    if (queue === undefined) this.expiries.set(ttlMs, (queue = new ExpiryQueue()));
    queue.push(key, entry);
  }

  private sweep(nowMs: number): void {
    for (const queue of this.expiries.values()) {
      // An entry replaced since (settled, claimed again) or released is no longer the key's: leave the key alone.
      queue.popExpired(nowMs, (key, entry) => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      });
    }
  }
}
