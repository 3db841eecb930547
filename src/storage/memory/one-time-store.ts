import type { OneTimeStore } from '../../auth/index.js';

/** Single-process one-time store. consume() is synchronous inside, so get-and-delete cannot interleave. */
export class MemoryOneTimeStore<T extends { readonly expiresAt: number }> implements OneTimeStore<T> {
  private readonly records = new Map<string, T>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(sweepIntervalMs = 30_000) {
    this.sweeper = setInterval(() => this.sweep(Date.now()), sweepIntervalMs);
    this.sweeper.unref();
  }

  async put(hash: string, record: T): Promise<void> {
    this.records.set(hash, record);
  }

  async consume(hash: string, nowMs: number): Promise<T | undefined> {
    const record = this.records.get(hash);
    this.records.delete(hash);
    return record !== undefined && record.expiresAt > nowMs ? record : undefined;
  }

  get size(): number {
    return this.records.size;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private sweep(nowMs: number): void {
    for (const [hash, record] of this.records) if (record.expiresAt <= nowMs) this.records.delete(hash);
  }
}
