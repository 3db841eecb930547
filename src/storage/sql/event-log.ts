import { CompiledQuery, type Kysely } from 'kysely';
import { encodeRunEvent, RunEventSchema, type RunEvent } from '../../protocol/index.js';
import { SeqTakenError, type EventLog } from '../../runs/index.js';
import type { Database } from '../schema.js';
import { isUniqueViolation } from './errors.js';

/** Rows in one INSERT at most: four parameters each, well under PostgreSQL's 65,535 and SQLite's 32,766. */
const MAX_ROWS_PER_STATEMENT = 2_000;

/** INSERT texts kept, by row count (group sizes vary; the text for 2,000 rows is about 60 kB). */
const COMPILED_INSERTS_KEPT = 64;

interface PendingWrite {
  readonly events: readonly RunEvent[];
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The run event log in SQL. Writes are group-committed: the appends of every run that arrive in the same turn of
 * the event loop are stored by one INSERT (a transaction of several past MAX_ROWS_PER_STATEMENT rows), so many
 * concurrent runs pay for one statement and one commit, not one each. Each
 * append stays all-or-nothing and is acknowledged only once committed; if the group fails (a seq was taken, the
 * database is away), each append is retried alone so only the guilty one fails.
 *
 * The second of three batching layers: it only defers to the end of the turn (docs/ARCHITECTURE.md, "Three
 * batching layers").
 */
export class SqlEventLog implements EventLog {
  private queue: PendingWrite[] = [];
  /** The INSERT's SQL for each row count, compiled once (see insertEvents). */
  private readonly inserts = new Map<number, string>();
  private commitScheduled = false;

  constructor(private readonly db: Kysely<Database>) {}

  append(events: readonly RunEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      if (this.commitScheduled) return;
      this.commitScheduled = true;
      setImmediate(() => void this.commit());
    });
  }

  async list(runId: string, afterSeq: number): Promise<RunEvent[]> {
    const rows = await this.db
      .selectFrom('run_events')
      .select('body')
      .where('run_id', '=', runId)
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .execute();
    // Parsing guards against rows written by an incompatible version rather than trusting the cast.
    return rows.map((r) => RunEventSchema.parse(JSON.parse(r.body)));
  }

  private async commit(): Promise<void> {
    const writes = this.queue;
    this.queue = [];
    this.commitScheduled = false;
    if (writes.length === 1) return this.writeAlone(writes[0]!);
    try {
      // The whole group in one statement (atomic on both engines): one round trip, not one per run.
      await this.insertAll(writes.flatMap((write) => write.events));
    } catch {
      // Each append alone, so only the guilty one fails; side by side, so an outage costs one wait, not one each.
      await Promise.all(writes.map((write) => this.writeAlone(write)));
      return;
    }
    for (const write of writes) write.resolve();
  }

  private async writeAlone(write: PendingWrite): Promise<void> {
    try {
      await this.insertAll(write.events);
      write.resolve();
    } catch (err) {
      const first = write.events[0]!;
      write.reject(isUniqueViolation(err) ? new SeqTakenError(first.runId, first.seq, { cause: err }) : err);
    }
  }

  /** One INSERT, or past MAX_ROWS_PER_STATEMENT rows several in one transaction (all or nothing either way). */
  private async insertAll(events: readonly RunEvent[]): Promise<void> {
    if (events.length <= MAX_ROWS_PER_STATEMENT) return this.insertEvents(this.db, events);
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < events.length; i += MAX_ROWS_PER_STATEMENT) {
        await this.insertEvents(trx, events.slice(i, i + MAX_ROWS_PER_STATEMENT));
      }
    });
  }

  /**
   * One multi-row INSERT: a single statement is atomic on both engines. Building it with Kysely cost more than
   * running it (nodes, frozen arrays and compilation for four values per event), so the statement for each row
   * count is compiled once and run with fresh parameters, in the database or in a transaction alike.
   */
  private async insertEvents(db: Kysely<Database>, events: readonly RunEvent[]): Promise<void> {
    const parameters: unknown[] = [];
    for (const event of events) parameters.push(event.runId, event.seq, event.type, encodeRunEvent(event));
    await db.executeQuery(CompiledQuery.raw(this.insertSql(events.length), parameters));
  }

  /** The SQL only (Kysely's node tree for a big INSERT is far larger than its text), most recently used last. */
  private insertSql(rows: number): string {
    let text = this.inserts.get(rows);
    if (text !== undefined) {
      this.inserts.delete(rows);
      this.inserts.set(rows, text);
      return text;
    }
    const markers = Array.from({ length: rows }, (_, i) => ({
      run_id: `run ${i}`,
      seq: i,
      type: `type ${i}`,
      body: `body ${i}`,
    }));
    const compiled = this.db.insertInto('run_events').values(markers).compile();
    // Reusing the SQL is right only if it takes its parameters row after row, column after column.
    const expected = markers.flatMap((m) => [m.run_id, m.seq, m.type, m.body]);
    if (compiled.parameters.length !== expected.length || compiled.parameters.some((p, i) => p !== expected[i])) {
      throw new Error('the run_events INSERT does not take its parameters in row order');
    }
    text = compiled.sql;
    if (this.inserts.size >= COMPILED_INSERTS_KEPT) this.inserts.delete(this.inserts.keys().next().value as number);
    this.inserts.set(rows, text);
    return text;
  }
}
