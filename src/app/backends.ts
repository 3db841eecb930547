import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AttemptLimiter, RevocationBus, TicketStore } from '../auth/index.js';
import type { Config } from '../config/index.js';
import type { ConnectionLeases } from '../gateway/index.js';
import type { InstanceLiveness, MessageIdStore, RunControlBus, UserEventBus } from '../runs/index.js';
import {
  FlexibleAttemptLimiter,
  MemoryBroadcast,
  MemoryConnectionLeases,
  MemoryMessageIdStore,
  MemoryTicketStore,
  MemoryUserEventBus,
  openPostgres,
  openSqlite,
  RedisBroadcast,
  RedisConnection,
  RedisConnectionLeases,
  RedisInstanceLiveness,
  RedisMessageIdStore,
  RedisTicketStore,
  RedisUserEventBus,
  SoleInstanceLiveness,
  type Database,
} from '../storage/index.js';

/** Everything stateful, chosen by config: SQLite + memory by default, PostgreSQL and Redis when their URLs are set. */
export interface Backends {
  readonly db: Kysely<Database>;
  readonly tickets: TicketStore;
  readonly bus: UserEventBus;
  readonly revocations: RevocationBus;
  readonly runControl: RunControlBus;
  readonly liveness: InstanceLiveness;
  readonly leases: ConnectionLeases;
  readonly messageIds: MessageIdStore;
  /** `points` attempts per key per minute, shared by every instance when Redis is configured. */
  readonly perMinute: (points: number, keyPrefix: string) => AttemptLimiter;
  /** Dependency checks for /health/ready, by component name. */
  readonly readiness: Record<string, () => Promise<void>>;
  /** Stops renewals and closes connections (after the instance has ended its runs). */
  readonly close: () => Promise<void>;
}

export async function openBackends(config: Config, instanceId: string, logger: Logger): Promise<Backends> {
  const db = config.database === undefined ? await openSqlite(config.dataDir) : await openPostgres(config.database);
  const readiness: Record<string, () => Promise<void>> = {
    database: async () => void (await sql`select 1`.execute(db)),
  };
  if (config.redis === undefined) {
    const tickets = new MemoryTicketStore();
    return {
      db,
      tickets,
      bus: new MemoryUserEventBus(),
      revocations: new MemoryBroadcast(),
      runControl: new MemoryBroadcast(),
      liveness: new SoleInstanceLiveness(instanceId),
      leases: new MemoryConnectionLeases(),
      messageIds: new MemoryMessageIdStore(),
      perMinute: (points, keyPrefix) => FlexibleAttemptLimiter.fixedWindow({ points, durationSeconds: 60, keyPrefix }),
      readiness,
      close: async () => {
        tickets.close();
        await db.destroy();
      },
    };
  }

  let redis: RedisConnection;
  try {
    redis = await RedisConnection.connect(config.redis);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  const warn = (what: string) => (err: unknown) => logger.warn({ err }, what);
  const liveness = new RedisInstanceLiveness(
    redis,
    instanceId,
    config.instanceLeaseMs,
    warn('instance lease renewal failed'),
  );
  await liveness.start();
  const bus = new RedisUserEventBus(redis, instanceId, warn('event not published to other instances'));
  readiness.redis = () => redis.ping();
  return {
    db,
    tickets: new RedisTicketStore(redis),
    bus,
    revocations: await RedisBroadcast.open(redis, 'revocations'),
    runControl: await RedisBroadcast.open(redis, 'cancel'),
    liveness,
    leases: new RedisConnectionLeases(redis, config.instanceLeaseMs),
    messageIds: new RedisMessageIdStore(redis),
    perMinute: (points, keyPrefix) =>
      FlexibleAttemptLimiter.fixedWindow({ points, durationSeconds: 60, keyPrefix, redis }),
    readiness,
    close: async () => {
      bus.close();
      await liveness.stop();
      await redis.close();
      await db.destroy();
    },
  };
}
