import type { Kysely } from 'kysely';

// Which instance executes a run: another instance ends the run `interrupted` only once that owner is gone.
// runs.last_seq goes: an event append is one INSERT (one round trip to PostgreSQL, no transaction), and the last
// seq is read from run_events' primary key instead.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('runs').addColumn('instance_id', 'text').execute();
  await db.schema.alterTable('runs').dropColumn('last_seq').execute();
  await db.schema.createIndex('runs_status').on('runs').column('status').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('runs_status').execute();
  await db.schema
    .alterTable('runs')
    .addColumn('last_seq', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('runs').dropColumn('instance_id').execute();
}
