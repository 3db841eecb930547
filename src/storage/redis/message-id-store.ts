import type { Accepted, MessageIdClaim, MessageIdStore } from '../../runs/index.js';
import type { RedisConnection } from './connection.js';

const PENDING = 'pending';

/** Accepted message ids as Redis keys: claimed with SET NX (one winner across instances), then hold the ack. */
export class RedisMessageIdStore implements MessageIdStore {
  constructor(private readonly redis: RedisConnection) {}

  async claim(key: string, ttlMs: number): Promise<MessageIdClaim> {
    const redisKey = this.keyOf(key);
    if ((await this.redis.commands.set(redisKey, PENDING, 'PX', ttlMs, 'NX')) === 'OK') return { kind: 'claimed' };
    const value = await this.redis.commands.get(redisKey);
    // Gone between the two commands (released or expired): the caller asks again.
    if (value === null || value === PENDING) return { kind: 'pending' };
    // Written by settle() below.
    return { kind: 'accepted', ack: JSON.parse(value) as Accepted };
  }

  async settle(key: string, ack: Accepted, ttlMs: number): Promise<void> {
    await this.redis.commands.set(
      this.keyOf(key),
      JSON.stringify({ threadId: ack.threadId, runId: ack.runId }),
      'PX',
      ttlMs,
    );
  }

  async release(key: string): Promise<void> {
    await this.redis.commands.del(this.keyOf(key));
  }

  private keyOf(key: string): string {
    return this.redis.key('message-id', key);
  }
}
