import type { TicketRecord, TicketStore } from '../../auth/index.js';

/** Single-process ticket store. consume() is synchronous inside, so get-and-delete cannot interleave. */
export class MemoryTicketStore implements TicketStore {
  private readonly tickets = new Map<string, TicketRecord>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(sweepIntervalMs = 30_000) {
    this.sweeper = setInterval(() => this.sweep(Date.now()), sweepIntervalMs);
    this.sweeper.unref();
  }

  async put(ticketHash: string, record: TicketRecord): Promise<void> {
    this.tickets.set(ticketHash, record);
  }

  async consume(ticketHash: string, nowMs: number): Promise<TicketRecord | undefined> {
    const record = this.tickets.get(ticketHash);
    this.tickets.delete(ticketHash);
    return record !== undefined && record.expiresAt > nowMs ? record : undefined;
  }

  get size(): number {
    return this.tickets.size;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private sweep(nowMs: number): void {
    for (const [hash, record] of this.tickets) if (record.expiresAt <= nowMs) this.tickets.delete(hash);
  }
}
