import type { Kysely } from 'kysely';

// Tool calls that wait for a person: durable, so a decision made on any instance (or after the run ended) finds
// them, and the first decision wins by a conditional update. They go with their run.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tool_approvals')
    .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('tool_call_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('tool', 'text', (c) => c.notNull())
    .addColumn('args', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('approved', 'integer')
    .addColumn('reason', 'text')
    .addColumn('decided_at', 'text')
    .addPrimaryKeyConstraint('tool_approvals_pk', ['run_id', 'tool_call_id'])
    .execute();
  await db.schema.createIndex('tool_approvals_user').on('tool_approvals').columns(['user_id', 'reason']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('tool_approvals').execute();
}
