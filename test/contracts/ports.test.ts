import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAttemptLimiter, MemoryTicketStore, MemoryUserEventBus, openSqlite, SqlConversationStore, SqlEventLog, SqlTokenStore, SqlUserStore } from '../../src/storage/index.js';
import { attemptLimiterContract } from '../../src/testing/contracts/attempt-limiter.contract.js';
import { durableStoresContract } from '../../src/testing/contracts/sql-stores.contract.js';
import { ticketStoreContract } from '../../src/testing/contracts/ticket-store.contract.js';
import { userEventBusContract } from '../../src/testing/contracts/user-event-bus.contract.js';

ticketStoreContract('memory', async () => new MemoryTicketStore());
userEventBusContract('memory', async () => new MemoryUserEventBus());
attemptLimiterContract('memory fixed window', async (points) => MemoryAttemptLimiter.fixedWindow({ points, durationSeconds: 60, keyPrefix: 'contract' }));
// The rate + burst limiter (MemoryAttemptLimiter.withBurst) is time-driven by its 1 s window; its contract is the
// end-to-end test/e2e/hardening-message-rate.test.ts.
durableStoresContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-contract-'));
  const db = await openSqlite(dir);
  const conversations = new SqlConversationStore(db);
  return {
    users: new SqlUserStore(db),
    tokens: new SqlTokenStore(db),
    conversations,
    runs: conversations,
    events: new SqlEventLog(db),
    close: async () => {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
// PostgreSQL and Redis implementations join these suites in the scale-out issue (#4).
