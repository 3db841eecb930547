import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { migrateToLatest } from '../migrations/index.js';
import { redactUrl } from '../redact-url.js';
import type { Database } from '../schema.js';
import { watchedPool } from './pool.js';

/**
 * Connects a pool to PostgreSQL and brings the schema up to date. Instances starting together are safe: Kysely's
 * migrator holds a PostgreSQL advisory lock while it migrates.
 */
export async function openPostgres(options: { url: string; poolSize: number }): Promise<Kysely<Database>> {
  return (await openPostgresPool(options)).db;
}

/** openPostgres, with how long the oldest statement waiting for one of the pool's connections has waited (for load shedding). */
export async function openPostgresPool(options: {
  url: string;
  poolSize: number;
}): Promise<{ db: Kysely<Database>; databaseWaitMs: () => number }> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // A client that loses its server emits 'error': on the pool while idle, on the client itself while checked out.
  // Without a listener either would crash the process; the query in flight rejects on its own and is handled.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const watched = watchedPool(pool);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: watched.pool }) });
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    await db.destroy();
    // 3D000: the server answered, but the database named in the URL does not exist.
    if ((err as { code?: string }).code === '3D000') {
      const name = decodeURIComponent(new URL(options.url).pathname.slice(1));
      throw new Error(
        `PostgreSQL at ${redactUrl(options.url)} has no database "${name}": create it first (createdb ${name}, or CREATE DATABASE)`,
        { cause: err },
      );
    }
    throw new Error(`cannot reach PostgreSQL at ${redactUrl(options.url)}`, { cause: err });
  }
  try {
    await migrateToLatest(db as Kysely<unknown>, 'postgres');
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, databaseWaitMs: () => watched.oldestWaitMs() };
}
