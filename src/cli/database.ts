import type { Kysely } from 'kysely';
import type { Config } from '../config/index.js';
import { openPostgres, openSqlite, type Database } from '../storage/index.js';

/**
 * The configured durable database, as `serve` opens it: SQLite under DATA_DIR, or PostgreSQL with DATABASE_URL.
 * Opening applies pending migrations (both backends migrate on open).
 */
export function openDatabase(config: Config): Promise<Kysely<Database>> {
  return config.database === undefined ? openSqlite(config.dataDir) : openPostgres(config.database);
}

/** The migrations recorded as applied, oldest first (Kysely's migration table, named in storage/migrations). */
export async function appliedMigrations(db: Kysely<Database>): Promise<Array<{ name: string; timestamp: string }>> {
  return db
    .withTables<{ agentgate_migrations: { name: string; timestamp: string } }>()
    .selectFrom('agentgate_migrations')
    .select(['name', 'timestamp'])
    .orderBy('name')
    .execute();
}
