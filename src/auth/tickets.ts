import { AppError } from '../errors/index.js';
import type { Principal } from './auth-service.js';
import type { AttemptLimiter, TicketRecord, TicketStore } from './ports.js';
import { hashSecret, newOpaqueSecret } from './secrets.js';

/** Single-use, short-lived WebSocket tickets so browsers never put an access token in a URL. */
export class Tickets {
  constructor(
    private readonly store: TicketStore,
    private readonly options: { defaultTtlSeconds: number; maxTtlSeconds: number; perUserLimiter: AttemptLimiter },
  ) {}

  async issue(
    principal: Principal,
    nowMs: number,
    ttlSeconds = this.options.defaultTtlSeconds,
  ): Promise<{ ticket: string; expiresIn: number }> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > this.options.maxTtlSeconds) {
      throw new AppError('invalid_request', `ttlSeconds must be an integer from 1 to ${this.options.maxTtlSeconds}.`);
    }
    await this.options.perUserLimiter.consume(`ticket:${principal.userId}`);
    const ticket = newOpaqueSecret('tk_');
    try {
      await this.store.put(hashSecret(ticket), {
        userId: principal.userId,
        sessionId: principal.sessionId,
        tokenExpiresAt: principal.expiresAt,
        expiresAt: nowMs + ttlSeconds * 1000,
      });
    } catch (err) {
      throw new AppError('service_unavailable', 'The ticket store is unavailable.', { cause: err });
    }
    return { ticket, expiresIn: ttlSeconds };
  }

  /** Spends the ticket whatever happens next; returns what it was issued for, or throws invalid_ticket. */
  async redeem(ticket: string, nowMs: number): Promise<TicketRecord> {
    const hash = hashSecret(ticket);
    let record: TicketRecord | undefined;
    try {
      record = await this.store.consume(hash, nowMs);
    } catch (err) {
      this.spendLater(hash);
      throw new AppError('service_unavailable', 'The ticket store is unavailable.', { cause: err });
    }
    if (record === undefined) throw new AppError('invalid_ticket', 'The ticket is unknown, expired or already used.');
    return record;
  }

  /**
   * Any attempt spends a ticket: one presented while the store was down is spent as soon as the store answers
   * again (retried twice a second while a ticket could still be valid).
   */
  private spendLater(hash: string): void {
    const giveUpAt = Date.now() + this.options.maxTtlSeconds * 1000;
    const attempt = (): void => {
      this.store.consume(hash, Date.now()).catch(() => {
        if (Date.now() < giveUpAt) setTimeout(attempt, 500).unref();
      });
    };
    setTimeout(attempt, 500).unref();
  }
}
