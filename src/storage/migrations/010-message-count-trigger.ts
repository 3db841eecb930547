import { sql, type Kysely } from 'kysely';
import type { SqlDialectName } from './dialect.js';

/**
 * A stored message counts itself on its thread (message_count, updated_at) by a trigger: adding a message is one
 * INSERT, not a transaction of two statements (four round trips to PostgreSQL, twice per run).
 */
export async function up(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void> {
  if (dialect === 'sqlite') {
    await sql`
      create trigger messages_count after insert on messages
      begin
        update threads set message_count = message_count + 1, updated_at = new.created_at where id = new.thread_id;
      end`.execute(db);
    return;
  }
  await sql`
    create function agentgate_message_added() returns trigger language plpgsql as $$
    begin
      update threads set message_count = message_count + 1, updated_at = new.created_at where id = new.thread_id;
      return null;
    end $$`.execute(db);
  await sql`
    create trigger messages_count after insert on messages
    for each row execute function agentgate_message_added()`.execute(db);
}

export async function down(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void> {
  await sql`drop trigger messages_count${dialect === 'postgres' ? sql` on messages` : sql``}`.execute(db);
  if (dialect === 'postgres') await sql`drop function agentgate_message_added()`.execute(db);
}
