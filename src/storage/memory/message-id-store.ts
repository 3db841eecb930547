import type { Accepted, MessageIdClaim, MessageIdStore } from '../../runs/index.js';

/** Expired entries are swept at most this often: a sweep walks every entry. */
const SWEEP_INTERVAL_MS = 1_000;

/** One process's accepted message ids; expired entries are swept as new ones arrive. */
export class MemoryMessageIdStore implements MessageIdStore {
  private readonly entries = new Map<string, { ack: Accepted | undefined; expiresAt: number }>();
  private lastSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async claim(key: string, ttlMs: number): Promise<MessageIdClaim> {
    const nowMs = this.now();
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.expiresAt > nowMs) return entry.ack === undefined ? { kind: 'pending' } : { kind: 'accepted', ack: entry.ack };
    if (this.entries.size >= 1024 && nowMs - this.lastSweep >= SWEEP_INTERVAL_MS) this.sweep(nowMs);
    this.entries.set(key, { ack: undefined, expiresAt: nowMs + ttlMs });
    return { kind: 'claimed' };
  }

  async settle(key: string, ack: Accepted, ttlMs: number): Promise<void> {
    this.entries.set(key, { ack, expiresAt: this.now() + ttlMs });
  }

  async release(key: string): Promise<void> {
    this.entries.delete(key);
  }

  private sweep(nowMs: number): void {
    this.lastSweep = nowMs;
    for (const [key, entry] of this.entries) if (entry.expiresAt <= nowMs) this.entries.delete(key);
  }
}
