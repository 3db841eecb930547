import type { Kysely } from 'kysely';

// The state an AG-UI agent (LLM_PROVIDER=agui) left a thread in: sent back to it on the thread's next run.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('threads').addColumn('agent_state', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('threads').dropColumn('agent_state').execute();
}
