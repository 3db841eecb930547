import type { OneTimeStore } from '../../auth/index.js';
import type { RedisConnection } from './connection.js';

/**
 * One-time records as Redis keys that expire with the record; GETDEL makes the single use atomic across
 * instances. `kind` names the key space (`ticket`, `oidc-state`, `login-code`).
 */
export class RedisOneTimeStore<T extends { readonly expiresAt: number }> implements OneTimeStore<T> {
  constructor(
    private readonly redis: RedisConnection,
    private readonly kind: string,
  ) {}

  async put(hash: string, record: T): Promise<void> {
    const ttlMs = Math.max(1, record.expiresAt - Date.now());
    await this.redis.commands.set(this.redis.key(this.kind, hash), JSON.stringify(record), 'PX', ttlMs);
  }

  async consume(hash: string, nowMs: number): Promise<T | undefined> {
    const raw = await this.redis.commands.getdel(this.redis.key(this.kind, hash));
    if (raw === null) return undefined;
    // Written by put() above; Redis expiry has a millisecond's slack, so the record's own expiry decides.
    const record = JSON.parse(raw) as T;
    return record.expiresAt > nowMs ? record : undefined;
  }
}
