import type { InstanceLiveness } from '../../runs/index.js';
import type { RedisConnection } from './connection.js';

/** What a graceful stop leaves in the key for a lease: "ended its runs itself", dead at once to every peer. */
const STOPPED = 'stopped';

/**
 * Each instance keeps a key alive (renewed every third of the lease, and at once whenever its Redis link comes
 * back); a crashed instance's key expires with the lease, and the runs it owned become orphans that another
 * instance ends.
 *
 * A missing key is a suspicion, not a death: Redis restarted empty drops every key at once, live instances too.
 * A peer is dead once its key has stayed missing, as seen by this instance, for a full lease (its owner renews
 * well within that when it is alive), or at once when it stopped gracefully.
 */
export class RedisInstanceLiveness implements InstanceLiveness {
  readonly alone = false;
  private timer: NodeJS.Timeout | undefined;
  /** When this instance first found each peer's key missing, since it was last seen. */
  private readonly missingSince = new Map<string, number>();
  private readonly renewNow = (): void => void this.renew().catch(this.onError);

  constructor(
    private readonly redis: RedisConnection,
    readonly instanceId: string,
    private readonly leaseMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(this.renewNow, Math.max(100, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
    this.redis.commands.on('ready', this.renewNow);
  }

  async alive(instanceIds: readonly string[]): Promise<Set<string>> {
    const others = [...new Set(instanceIds)].filter((id) => id !== this.instanceId);
    const alive = new Set([this.instanceId]);
    if (others.length === 0) return alive;
    const values = await this.redis.commands.mget(others.map((id) => this.keyOf(id)));
    const now = this.now();
    others.forEach((id, i) => {
      const value = values[i] ?? null;
      if (value !== null) {
        this.missingSince.delete(id);
        if (value !== STOPPED) alive.add(id);
        return;
      }
      const since = this.missingSince.get(id) ?? now;
      this.missingSince.set(id, since);
      if (now - since < this.leaseMs) alive.add(id);
    });
    this.forgetLongDead(now);
    return alive;
  }

  /** Stops renewing and gives the lease up at once (graceful stop: this instance has ended its runs). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.redis.commands.off('ready', this.renewNow);
    await this.redis.commands.set(this.keyOf(this.instanceId), STOPPED, 'PX', this.leaseMs).catch(() => {});
  }

  private async renew(): Promise<void> {
    await this.redis.commands.set(this.keyOf(this.instanceId), String(this.now()), 'PX', this.leaseMs);
  }

  /** Peers missing for many leases had their runs ended long ago: their entries would only accumulate. */
  private forgetLongDead(now: number): void {
    for (const [id, since] of this.missingSince) {
      if (now - since > 10 * this.leaseMs) this.missingSince.delete(id);
    }
  }

  private keyOf(instanceId: string): string {
    return this.redis.key('instance', instanceId);
  }
}
