import type { Kysely } from 'kysely';

// Token usage per user and UTC hour, for the per-user token budget. One row per bucket, incremented in place, so
// the table stays small (at most 24 rows per user per day) and a budget of any whole number of hours can be summed.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('token_usage')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('hour_start', 'text', (c) => c.notNull())
    .addColumn('input_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('output_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('token_usage_pk', ['user_id', 'hour_start'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('token_usage').ifExists().execute();
}
