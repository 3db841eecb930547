import type { Kysely } from 'kysely';

// Facts every instance sharing this database must agree on, by name: the fingerprint of the signing key first.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('cluster_settings')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('cluster_settings').ifExists().execute();
}
