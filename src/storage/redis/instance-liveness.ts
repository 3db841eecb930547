import type { InstanceLiveness } from '../../runs/index.js';
import type { RedisConnection } from './connection.js';

/**
 * Each instance keeps a key alive (renewed every third of the lease); a crashed instance's key expires with the
 * lease, and the runs it owned become orphans that another instance ends.
 */
export class RedisInstanceLiveness implements InstanceLiveness {
  readonly alone = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisConnection,
    readonly instanceId: string,
    private readonly leaseMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(() => void this.renew().catch(this.onError), Math.max(100, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
  }

  async alive(instanceIds: readonly string[]): Promise<Set<string>> {
    const others = [...new Set(instanceIds)].filter((id) => id !== this.instanceId);
    const alive = new Set([this.instanceId]);
    if (others.length === 0) return alive;
    const values = await this.redis.commands.mget(others.map((id) => this.keyOf(id)));
    others.forEach((id, i) => values[i] !== null && alive.add(id));
    return alive;
  }

  /** Stops renewing and gives the lease up at once (graceful stop: this instance has ended its runs). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.commands.del(this.keyOf(this.instanceId)).catch(() => {});
  }

  private async renew(): Promise<void> {
    await this.redis.commands.set(this.keyOf(this.instanceId), String(Date.now()), 'PX', this.leaseMs);
  }

  private keyOf(instanceId: string): string {
    return this.redis.key('instance', instanceId);
  }
}
