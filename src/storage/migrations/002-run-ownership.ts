import type { Kysely } from 'kysely';

// Which instance executes a run: another instance ends the run `interrupted` only once that owner is gone.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('runs').addColumn('instance_id', 'text').execute();
  await db.schema.createIndex('runs_status').on('runs').column('status').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('runs_status').execute();
  await db.schema.alterTable('runs').dropColumn('instance_id').execute();
}
