import { sql, type Kysely } from 'kysely';

/**
 * A run's burst of consecutive events is one row: `seq` is its first event's, `last_seq` its last's, `body` the
 * events' JSON one per line (JSON text never holds a raw newline). A row per event cost SQLite about 3.6 times as
 * much per event (`npm run bench -- event-rows`). Rows stored before are bursts of one.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('run_events')
    .addColumn('last_seq', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`update run_events set last_seq = seq`.execute(db);
}

interface BurstRow {
  run_id: string;
  seq: number;
  last_seq: number;
  body: string;
}

/** Back to a row per event: every burst of several is split into its events. */
export async function down(db: Kysely<unknown>): Promise<void> {
  const typed = db as Kysely<{ run_events: BurstRow & { type: string } }>;
  const bursts = await typed
    .selectFrom('run_events')
    .select(['run_id', 'seq', 'last_seq', 'body'])
    .where((eb) => eb('last_seq', '>', eb.ref('seq')))
    .execute();
  await typed.transaction().execute(async (trx) => {
    for (const burst of bursts) {
      await trx.deleteFrom('run_events').where('run_id', '=', burst.run_id).where('seq', '=', burst.seq).execute();
      const events = burst.body
        .split('\n')
        .map((line) => ({ line, event: JSON.parse(line) as { seq: number; type: string } }));
      await trx
        .insertInto('run_events')
        .values(
          events.map(({ line, event }) => ({
            run_id: burst.run_id,
            seq: event.seq,
            last_seq: event.seq,
            type: event.type,
            body: line,
          })),
        )
        .execute();
    }
  });
  await db.schema.alterTable('run_events').dropColumn('last_seq').execute();
}
