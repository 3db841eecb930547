import { Migrator, type Kysely, type Migration, type MigrationResultSet } from 'kysely';
import * as initial from './001-initial.js';
import * as runOwnership from './002-run-ownership.js';
import * as tokenUsage from './003-token-usage.js';
import * as clusterSettings from './004-cluster-settings.js';
import * as threadMessageCount from './005-thread-message-count.js';
import * as threadAgentState from './006-thread-agent-state.js';
import * as toolApprovals from './007-tool-approvals.js';
import * as userIdentities from './008-user-identities.js';
import * as eventBursts from './009-event-bursts.js';
import * as messageCountTrigger from './010-message-count-trigger.js';
import type { Database } from '../schema.js';
import type { SqlDialectName } from './dialect.js';

/** Migrations compiled into the program (no directory scanning), in order. */
function migrationsFor(dialect: SqlDialectName): Record<string, Migration> {
  return {
    '001-initial': { up: (db) => initial.up(db, dialect), down: (db) => initial.down(db) },
    '002-run-ownership': runOwnership,
    '003-token-usage': tokenUsage,
    '004-cluster-settings': clusterSettings,
    '005-thread-message-count': threadMessageCount,
    '006-thread-agent-state': threadAgentState,
    '007-tool-approvals': toolApprovals,
    '008-user-identities': userIdentities,
    '009-event-bursts': eventBursts,
    '010-message-count-trigger': {
      up: (db) => messageCountTrigger.up(db, dialect),
      down: (db) => messageCountTrigger.down(db, dialect),
    },
  };
}

export async function migrateToLatest(db: Kysely<unknown>, dialect: SqlDialectName): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrationsFor(dialect) },
    migrationTableName: 'agentgate_migrations',
    migrationLockTableName: 'agentgate_migrations_lock',
  });
  const result = await migrator.migrateToLatest();
  if (result.error !== undefined) throw new Error('database migration failed', { cause: result.error });
  return result;
}

/** The migrations recorded as applied, oldest first (Kysely's migration table). */
export async function appliedMigrations(db: Kysely<Database>): Promise<Array<{ name: string; timestamp: string }>> {
  return db
    .withTables<{ agentgate_migrations: { name: string; timestamp: string } }>()
    .selectFrom('agentgate_migrations')
    .select(['name', 'timestamp'])
    .orderBy('name')
    .execute();
}
