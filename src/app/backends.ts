import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { TokenUsageStore } from '../agents/index.js';
import type {
  AttemptLimiter,
  BusLink,
  RevocationBus,
  SigningKeyRegistry,
  OneTimeStore,
  TicketRecord,
  TicketStore,
  TokenStore,
  UserStore,
} from '../auth/index.js';
import type { Config } from '../config/index.js';
import type { ConnectionLeases } from '../gateway/index.js';
import type {
  ConversationStore,
  EventLog,
  InstanceLiveness,
  MessageIdStore,
  RunControlBus,
  ApprovalBus,
  ApprovalStore,
  RunStore,
  UserEventBus,
} from '../runs/index.js';
import {
  appliedMigrations,
  FlexibleAttemptLimiter,
  isStatementRefused,
  lockDataDir,
  MemoryBroadcast,
  MemoryConnectionLeases,
  MemoryMessageIdStore,
  MemoryOneTimeStore,
  MemoryUserEventBus,
  openPostgres,
  openPostgresPool,
  openSqlite,
  openSqliteWatched,
  RedisBroadcast,
  RedisConnection,
  RedisConnectionLeases,
  RedisInstanceLiveness,
  RedisMessageIdStore,
  RedisOneTimeStore,
  RedisUserEventBus,
  SoleInstanceLiveness,
  SqlConversationStore,
  postgresConversationStore,
  SqlEventLog,
  SqlSigningKeyRegistry,
  SqlTokenStore,
  SqlTokenUsageStore,
  SqlUserStore,
  SqlApprovalStore,
  type Database,
} from '../storage/index.js';

/** The durable stores, on the configured database (SQLite under DATA_DIR, or PostgreSQL with DATABASE_URL). */
export interface DurableStores {
  readonly users: UserStore;
  readonly tokens: TokenStore;
  readonly conversations: ConversationStore;
  readonly runs: RunStore;
  readonly events: EventLog;
  readonly approvals: ApprovalStore;
  readonly usage: TokenUsageStore;
  readonly signingKeyRegistry: SigningKeyRegistry;
  /** True for an error with which the database refused a statement for its input: not an outage (breakers). */
  readonly isStatementRefused: (err: unknown) => boolean;
  /** SQLite: tells when another process (the CLI) committed to the file; undefined on PostgreSQL. */
  readonly foreignCommits: BusLink | undefined;
  /** Statements waiting for a PostgreSQL connection (SQLite has no pool: 0). */
  readonly databaseWaitMs: () => number;
  /** A real query: throws while the database does not answer (for /health/ready). */
  readonly ping: () => Promise<void>;
  readonly close: () => Promise<void>;
}

/** Every port, chosen by config: SQLite + memory by default, PostgreSQL and Redis when their URLs are set. */
export interface Backends extends Omit<DurableStores, 'ping' | 'close'> {
  readonly tickets: TicketStore;
  readonly bus: UserEventBus;
  readonly revocations: RevocationBus;
  /**
   * What tells this process of revocations it did not make (the Redis link that carries other processes'
   * announcements; SQLite's foreign commits); undefined where nothing does (PostgreSQL without Redis).
   */
  readonly revocationLink: BusLink | undefined;
  readonly runControl: RunControlBus;
  readonly approvalBus: ApprovalBus;
  readonly liveness: InstanceLiveness;
  readonly leases: ConnectionLeases;
  readonly messageIds: MessageIdStore;
  /** Single-use short-lived records of one kind (OIDC sign-ins, login codes), shared by every instance with Redis. */
  readonly oneTime: <T extends { readonly expiresAt: number }>(kind: string) => OneTimeStore<T>;
  /** `points` attempts per key per minute, shared by every instance when Redis is configured. */
  readonly perMinute: (points: number, keyPrefix: string) => AttemptLimiter;
  /** A rate with a 10 s burst allowance, per key on this instance (keys are connections, which live here). */
  readonly perConnection: (rate: { perSecond: number; burst: number }) => AttemptLimiter;
  /** Dependency checks for /health/ready, by component name. */
  readonly readiness: Record<string, () => Promise<void>>;
  /** Stops renewals and closes connections (after the instance has ended its runs). */
  readonly close: () => Promise<void>;
}

/** Opens the configured database (applying pending migrations) and builds the stores on it. */
export async function openDurableStores(config: Config): Promise<DurableStores> {
  const { db, foreignCommits, databaseWaitMs } =
    config.database === undefined
      ? { ...(await openSqliteWatched(config.dataDir)), databaseWaitMs: () => 0 }
      : { ...(await openPostgresPool(config.database)), foreignCommits: undefined };
  const conversations = config.database === undefined ? new SqlConversationStore(db) : postgresConversationStore(db);
  return {
    users: new SqlUserStore(db),
    tokens: new SqlTokenStore(db),
    conversations,
    runs: conversations,
    events: new SqlEventLog(db),
    usage: new SqlTokenUsageStore(db),
    approvals: new SqlApprovalStore(db),
    signingKeyRegistry: new SqlSigningKeyRegistry(db),
    isStatementRefused,
    foreignCommits,
    databaseWaitMs,
    ping: async () => void (await sql`select 1`.execute(db)),
    close: () => db.destroy(),
  };
}

const perConnection = (rate: { perSecond: number; burst: number }): AttemptLimiter =>
  FlexibleAttemptLimiter.withBurst({ ...rate, burstWindowSeconds: 10, keyPrefix: 'ws-messages' });

export async function openBackends(config: Config, instanceId: string, logger: Logger): Promise<Backends> {
  // A server on SQLite owns DATA_DIR: a second one there would end this one's runs as orphans.
  const unlock = config.database === undefined ? await lockDataDir(config.dataDir) : async () => {};
  let durable: DurableStores;
  try {
    durable = await openDurableStores(config);
  } catch (err) {
    await unlock();
    throw err;
  }
  const { ping, close: closeDurable, ...stores } = durable;
  const closeStores = async (): Promise<void> => {
    await closeDurable();
    await unlock();
  };
  const readiness: Record<string, () => Promise<void>> = { database: ping };
  if (config.redis === undefined) {
    const tickets = new MemoryOneTimeStore<TicketRecord>();
    const oneTimeStores: Array<MemoryOneTimeStore<{ readonly expiresAt: number }>> = [];
    return {
      ...stores,
      tickets,
      bus: new MemoryUserEventBus(),
      revocations: new MemoryBroadcast(),
      revocationLink: stores.foreignCommits,
      runControl: new MemoryBroadcast(),
      approvalBus: new MemoryBroadcast(),
      liveness: new SoleInstanceLiveness(instanceId),
      leases: new MemoryConnectionLeases(),
      messageIds: new MemoryMessageIdStore(),
      perMinute: (points, keyPrefix) => FlexibleAttemptLimiter.fixedWindow({ points, durationSeconds: 60, keyPrefix }),
      oneTime: <T extends { readonly expiresAt: number }>() => {
        const store = new MemoryOneTimeStore<T>();
        oneTimeStores.push(store);
        return store;
      },
      perConnection,
      readiness,
      close: async () => {
        tickets.close();
        for (const store of oneTimeStores) store.close();
        await closeStores();
      },
    };
  }

  let redis: RedisConnection;
  try {
    redis = await RedisConnection.connect(config.redis);
  } catch (err) {
    await closeStores();
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
    ...stores,
    tickets: new RedisOneTimeStore<TicketRecord>(redis, 'ticket'),
    bus,
    revocations: await RedisBroadcast.open(redis, REVOCATIONS_CHANNEL),
    revocationLink: redis.pubsub,
    runControl: await RedisBroadcast.open(redis, 'cancel'),
    approvalBus: await RedisBroadcast.open(redis, 'approvals'),
    liveness,
    leases: new RedisConnectionLeases(redis, config.instanceLeaseMs),
    messageIds: new RedisMessageIdStore(redis),
    perMinute: (points, keyPrefix) =>
      FlexibleAttemptLimiter.fixedWindow({ points, durationSeconds: 60, keyPrefix, redis }),
    oneTime: <T extends { readonly expiresAt: number }>(kind: string) => new RedisOneTimeStore<T>(redis, kind),
    perConnection,
    readiness,
    close: async () => {
      bus.close();
      await liveness.stop();
      await redis.close();
      await closeStores();
    },
  };
}

/** The channel every server's RevocationBus listens to: each closes the sockets of an announced session. */
const REVOCATIONS_CHANNEL = 'revocations';

/**
 * Tells running servers, from outside them (the CLI), that sessions were revoked; undefined without Redis, where no
 * channel reaches them. Connects for the announcement only.
 */
export function revocationAnnouncer(config: Config): ((sessionIds: readonly string[]) => Promise<void>) | undefined {
  const { redis: options } = config;
  if (options === undefined) return undefined;
  return async (sessionIds) => {
    const redis = await RedisConnection.connect(options);
    try {
      const revocations = await RedisBroadcast.open(redis, REVOCATIONS_CHANNEL);
      for (const id of sessionIds) await revocations.publish(id);
    } finally {
      await redis.close();
    }
  };
}

/**
 * Brings the configured database to the latest schema (opening it migrates) and answers the migrations applied,
 * oldest first.
 */
export async function migrateDatabase(config: Config): Promise<Array<{ name: string; timestamp: string }>> {
  const db = await openDatabase(config);
  try {
    return await appliedMigrations(db);
  } finally {
    await db.destroy();
  }
}

function openDatabase(config: Config): Promise<Kysely<Database>> {
  return config.database === undefined ? openSqlite(config.dataDir) : openPostgres(config.database);
}
