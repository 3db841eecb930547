import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { TicketRecord } from '../../src/auth/index.js';
import { afterAll } from 'vitest';
import {
  FlexibleAttemptLimiter,
  MemoryBroadcast,
  MemoryConnectionLeases,
  MemoryMessageIdStore,
  MemoryOneTimeStore,
  MemoryTokenUsageStore,
  MemoryUserEventBus,
  openPostgres,
  openSqlite,
  RedisBroadcast,
  RedisConnectionLeases,
  RedisInstanceLiveness,
  RedisMessageIdStore,
  RedisOneTimeStore,
  RedisUserEventBus,
  SoleInstanceLiveness,
  SqlConversationStore,
  postgresConversationStore,
  SqlEventLog,
  SqlTokenStore,
  SqlTokenUsageStore,
  SqlUserStore,
  type Database,
  type RedisConnection,
} from '../../src/storage/index.js';
import { attemptLimiterContract } from '../../src/testing/contracts/attempt-limiter.contract.js';
import { broadcastContract } from '../../src/testing/contracts/broadcast.contract.js';
import { connectionLeasesContract } from '../../src/testing/contracts/connection-leases.contract.js';
import { instanceLivenessContract } from '../../src/testing/contracts/instance-liveness.contract.js';
import { messageIdStoreContract } from '../../src/testing/contracts/message-id-store.contract.js';
import { durableStoresContract, type DurableStores } from '../../src/testing/contracts/sql-stores.contract.js';
import { ticketStoreContract } from '../../src/testing/contracts/ticket-store.contract.js';
import { tokenUsageStoreContract } from '../../src/testing/contracts/token-usage-store.contract.js';
import { userAdminContract } from '../../src/testing/contracts/user-admin.contract.js';
import { userEventBusContract } from '../../src/testing/contracts/user-event-bus.contract.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { connectTestRedis, createTestDatabase, testRedisPrefix } from '../../src/testing/services.js';

function storesOver(
  db: Kysely<Database>,
  cleanup: () => Promise<void>,
  conversations = new SqlConversationStore(db),
): DurableStores {
  return {
    users: new SqlUserStore(db),
    tokens: new SqlTokenStore(db),
    conversations,
    runs: conversations,
    events: new SqlEventLog(db),
    close: cleanup,
  };
}

/** n handles on one thing: what n instances look like when the state lives in one process. */
const same = <T>(n: number, thing: T): T[] => Array.from({ length: n }, () => thing);

// In memory and SQLite: one instance.
ticketStoreContract('memory', async () => new MemoryOneTimeStore<TicketRecord>());
userEventBusContract('memory', async (n) => ({ buses: same(n, new MemoryUserEventBus()), close: async () => {} }));
broadcastContract('memory', async (n) => ({ channels: same(n, new MemoryBroadcast()), close: async () => {} }));
messageIdStoreContract('memory', async (n) => ({ stores: same(n, new MemoryMessageIdStore()), close: async () => {} }));
connectionLeasesContract('memory', async (n) => ({
  leases: same(n, new MemoryConnectionLeases()),
  close: async () => {},
}));
instanceLivenessContract(
  'sole instance',
  async () => Object.assign(new SoleInstanceLiveness(randomUUID()), { stop: async () => {} }),
  false,
);
attemptLimiterContract('memory fixed window', async (points) =>
  FlexibleAttemptLimiter.fixedWindow({ points, durationSeconds: 60, keyPrefix: 'contract' }),
);
// The rate + burst limiter (FlexibleAttemptLimiter.withBurst) is time-driven by its 1 s window; its contract is
// the end-to-end test/e2e/hardening-message-rate.test.ts.
tokenUsageStoreContract('memory', async (n) => ({
  stores: same(n, new MemoryTokenUsageStore()),
  close: async () => {},
}));
tokenUsageStoreContract('sqlite', async (n) => {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-contract-'));
  const db = await openSqlite(dir);
  return {
    stores: Array.from({ length: n }, () => new SqlTokenUsageStore(db)),
    close: async () => {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
durableStoresContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-contract-'));
  const db = await openSqlite(dir);
  return storesOver(db, async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
});
userAdminContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-contract-'));
  const db = await openSqlite(dir);
  return storesOver(db, async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
});

// PostgreSQL: one fresh database per test, migrated from empty.
describeWithServices(['postgres'], 'PostgreSQL', () => {
  // One pool per instance on one database.
  tokenUsageStoreContract('postgres', async (n) => {
    const database = await createTestDatabase();
    const pools: Array<Kysely<Database>> = [];
    for (let i = 0; i < n; i++) pools.push(await openPostgres({ url: database.url, poolSize: 4 }));
    return {
      stores: pools.map((db) => new SqlTokenUsageStore(db)),
      close: async () => {
        await Promise.all(pools.map((db) => db.destroy()));
        await database.drop();
      },
    };
  });
  durableStoresContract('postgres', async () => {
    const database = await createTestDatabase();
    const db = await openPostgres({ url: database.url, poolSize: 10 });
    return storesOver(
      db,
      async () => {
        await db.destroy();
        await database.drop();
      },
      postgresConversationStore(db),
    );
  });
  userAdminContract('postgres', async () => {
    const database = await createTestDatabase();
    const db = await openPostgres({ url: database.url, poolSize: 4 });
    return storesOver(db, async () => {
      await db.destroy();
      await database.drop();
    });
  });
});

// Redis: each test gets its own key prefix; n connections stand for n instances.
describeWithServices(['redis'], 'Redis', () => {
  const opened: RedisConnection[] = [];
  afterAll(async () => void (await Promise.all(opened.map((c) => c.close()))));
  async function cluster<T>(
    n: number,
    make: (redis: RedisConnection, i: number) => T | Promise<T>,
  ): Promise<{ items: T[]; close(): Promise<void> }> {
    const prefix = testRedisPrefix();
    const connections = await Promise.all(Array.from({ length: n }, () => connectTestRedis(prefix)));
    const items = await Promise.all(connections.map((c, i) => make(c, i)));
    return { items, close: async () => void (await Promise.all(connections.map((c) => c.close()))) };
  }

  ticketStoreContract('redis', async () => {
    const redis = await connectTestRedis();
    opened.push(redis);
    return new RedisOneTimeStore<TicketRecord>(redis, 'ticket');
  });
  userEventBusContract('redis', async (n) => {
    const { items, close } = await cluster(
      n,
      (redis) =>
        new RedisUserEventBus(redis, randomUUID(), (err) => {
          throw err;
        }),
    );
    return { buses: items, close };
  });
  broadcastContract('redis', async (n) => {
    const { items, close } = await cluster(n, (redis) => RedisBroadcast.open(redis, 'contract'));
    return { channels: items, close };
  });
  messageIdStoreContract('redis', async (n) => {
    const { items, close } = await cluster(n, (redis) => new RedisMessageIdStore(redis));
    return { stores: items, close };
  });
  connectionLeasesContract(
    'redis',
    async (n) => {
      const { items, close } = await cluster(n, (redis) => new RedisConnectionLeases(redis, 400));
      return { leases: items, close };
    },
    400,
  );
  const prefix = testRedisPrefix();
  const LEASE_MS = 600;
  instanceLivenessContract(
    'redis',
    async () => {
      const redis = await connectTestRedis(prefix);
      const liveness = new RedisInstanceLiveness(redis, randomUUID(), LEASE_MS, () => {});
      await liveness.start();
      const key = redis.key('instance', liveness.instanceId);
      const forget = async () => {
        const other = await connectTestRedis(prefix);
        await other.commands.del(key);
        await other.close();
      };
      let closed = false;
      return {
        instanceId: liveness.instanceId,
        alone: liveness.alone,
        alive: (ids: readonly string[]) => liveness.alive(ids),
        stop: async () => {
          if (closed) return;
          await liveness.stop();
          await redis.close();
        },
        // Its link is gone, so nothing renews the key; then the key expires.
        crash: async () => {
          closed = true;
          await redis.close();
          await forget();
        },
        vanish: forget,
      };
    },
    { leaseMs: LEASE_MS },
  );
  attemptLimiterContract('redis fixed window', async (points) => {
    const redis = await connectTestRedis();
    opened.push(redis);
    return FlexibleAttemptLimiter.fixedWindow({ points, durationSeconds: 60, keyPrefix: 'contract', redis });
  });
});
