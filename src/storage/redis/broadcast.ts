import type { RedisConnection } from './connection.js';

/**
 * One channel every instance listens to (revoked sessions, cancel requests). The publishing instance hears its
 * own messages back through Redis like everyone else, so there is one delivery path.
 */
export class RedisBroadcast {
  private readonly listeners = new Set<(payload: string) => void>();

  private constructor(
    private readonly redis: RedisConnection,
    private readonly channel: string,
  ) {}

  static async open(redis: RedisConnection, name: string): Promise<RedisBroadcast> {
    const broadcast = new RedisBroadcast(redis, redis.key('broadcast', name));
    await redis.pubsub.subscribe(broadcast.channel, (payload) => {
      for (const listener of [...broadcast.listeners]) listener(payload);
    }).ready;
    return broadcast;
  }

  async publish(payload: string): Promise<void> {
    await this.redis.commands.publish(this.channel, payload);
  }

  subscribe(listener: (payload: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
