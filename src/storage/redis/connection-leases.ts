import type { Result } from 'ioredis';
import type { ConnectionLeases, Lease } from '../../gateway/index.js';
import type { RedisConnection } from './connection.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    agentgateAcquireLease(key: string, member: string, max: number, leaseMs: number): Result<number, Context>;
    agentgateRenewLeases(key: string, leaseMs: number, ...members: string[]): Result<number, Context>;
  }
}

// A sorted set per user: member = connection id, score = lease expiry in Redis's own clock (instances' clocks may
// disagree). Expired members are dropped before counting, all in one atomic script.
const ACQUIRE = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

// Renewal re-adds a lease that expired meanwhile (Redis was away for longer than a lease): the socket is still open
// and must count. A renewal racing a release can leave a closed socket's lease behind until it expires.
const RENEW = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + ttl, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ttl)
return 1`;

export class RedisConnectionLeases implements ConnectionLeases {
  constructor(
    private readonly redis: RedisConnection,
    private readonly leaseMs: number,
  ) {
    redis.commands.defineCommand('agentgateAcquireLease', { numberOfKeys: 1, lua: ACQUIRE });
    redis.commands.defineCommand('agentgateRenewLeases', { numberOfKeys: 1, lua: RENEW });
  }

  async acquire(lease: Lease, max: number): Promise<boolean> {
    return (
      (await this.redis.commands.agentgateAcquireLease(
        this.keyOf(lease.userId),
        lease.connectionId,
        max,
        this.leaseMs,
      )) === 1
    );
  }

  async renew(leases: readonly Lease[]): Promise<void> {
    const byUser = new Map<string, string[]>();
    for (const l of leases) byUser.set(l.userId, [...(byUser.get(l.userId) ?? []), l.connectionId]);
    if (byUser.size === 0) return;
    const pipeline = this.redis.commands.pipeline();
    for (const [userId, ids] of byUser) pipeline.agentgateRenewLeases(this.keyOf(userId), this.leaseMs, ...ids);
    const results = await pipeline.exec();
    const failure = results?.find(([err]) => err !== null)?.[0];
    if (failure) throw failure;
  }

  async release(lease: Lease): Promise<void> {
    await this.redis.commands.zrem(this.keyOf(lease.userId), lease.connectionId);
  }

  private keyOf(userId: string): string {
    return this.redis.key('connections', userId);
  }
}
