import type { TicketRecord, TicketStore } from '../../auth/index.js';
import type { RedisConnection } from './connection.js';

/** Tickets as Redis keys that expire with the ticket; GETDEL makes the single use atomic across instances. */
export class RedisTicketStore implements TicketStore {
  constructor(private readonly redis: RedisConnection) {}

  async put(ticketHash: string, record: TicketRecord): Promise<void> {
    const ttlMs = Math.max(1, record.expiresAt - Date.now());
    await this.redis.commands.set(this.redis.key('ticket', ticketHash), JSON.stringify(record), 'PX', ttlMs);
  }

  async consume(ticketHash: string, nowMs: number): Promise<TicketRecord | undefined> {
    const raw = await this.redis.commands.getdel(this.redis.key('ticket', ticketHash));
    if (raw === null) return undefined;
    // Written by put() above; Redis expiry has a millisecond's slack, so the record's own expiry decides.
    const record = JSON.parse(raw) as TicketRecord;
    return record.expiresAt > nowMs ? record : undefined;
  }
}
