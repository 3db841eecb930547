import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from '../schema.js';

/**
 * A recorded cluster setting, read-only (nothing is created or migrated); undefined when there is none yet. Throws
 * when PostgreSQL cannot be reached.
 */
export async function peekPostgresSetting(url: string, name: string): Promise<string | undefined> {
  const pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    const row = await db.selectFrom('cluster_settings').select('value').where('name', '=', name).executeTakeFirst();
    return row?.value;
  } catch (err) {
    // 42P01: the table does not exist yet (no instance has migrated this database): nothing is recorded.
    if ((err as { code?: string }).code === '42P01') return undefined;
    throw err;
  } finally {
    await db.destroy();
  }
}
