import { sql, type Kysely } from 'kysely';

// A thread's cap on messages is checked on every message: a counter kept with the thread, not a count of rows.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('threads')
    .addColumn('message_count', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`update threads set message_count = (select count(*) from messages where messages.thread_id = threads.id)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('threads').dropColumn('message_count').execute();
}
