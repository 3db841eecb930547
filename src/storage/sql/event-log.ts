import { CompiledQuery, type Kysely } from 'kysely';
import { encodeRunEvent, RunEventSchema, type RunEvent } from '../../protocol/index.js';
import { SeqTakenError, type EventLog } from '../../runs/index.js';
import type { Database } from '../schema.js';
import { allOrEach } from './all-or-each.js';
import { isUniqueViolation } from './errors.js';

/** Rows (bursts) in one INSERT at most: five parameters each, well under PostgreSQL's 65,535 and SQLite's 32,766. */
const MAX_ROWS_PER_STATEMENT = 2_000;

/** INSERT texts kept, by row count (group sizes vary; the text for 2,000 rows is about 70 kB). */
const COMPILED_INSERTS_KEPT = 64;

interface PendingWrite {
  readonly events: readonly RunEvent[];
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The run event log in SQL. An append is one row, its burst of consecutive events (migration 009): a row per event
 * cost SQLite 3.6 times as much per event (`npm run bench -- event-rows`). Writes are group-committed: the appends of every run that arrive in the same turn
 * of the event loop are stored by one INSERT (a transaction of several past MAX_ROWS_PER_STATEMENT rows), so many
 * concurrent runs pay for one statement and one commit, not one each. Each append stays all-or-nothing and is
 * acknowledged only once committed; if the group fails (a seq was taken, the database is away), each append is
 * retried alone so only the guilty one fails.
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
    const first = events[0]!;
    // A burst is stored as one row spanning first..last seq: anything else would hide a gap or a second run.
    if (events.some((e, i) => e.runId !== first.runId || e.seq !== first.seq + i)) {
      return Promise.reject(new Error('an append must hold consecutive events of one run'));
    }
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
      .where('last_seq', '>', afterSeq)
      .orderBy('seq')
      .execute();
    const events: RunEvent[] = [];
    for (const row of rows) {
      for (const line of row.body.split('\n')) {
        // Parsing guards against rows written by an incompatible version rather than trusting the cast.
        const event = RunEventSchema.parse(JSON.parse(line));
        if (event.seq > afterSeq) events.push(event);
      }
    }
    return events;
  }

  private async commit(): Promise<void> {
    const writes = this.queue;
    this.queue = [];
    this.commitScheduled = false;
    // The whole group in one statement (atomic on both engines): one round trip, not one per run.
    const outcomes = await allOrEach(
      writes,
      (group) => this.insertAll(group.map((write) => write.events)),
      (write) => this.insertAll([write.events]),
    );
    outcomes.forEach((outcome, i) => {
      const write = writes[i]!;
      if (outcome.status === 'fulfilled') return write.resolve();
      const first = write.events[0]!;
      const err: unknown = outcome.reason;
      write.reject(isUniqueViolation(err) ? new SeqTakenError(first.runId, first.seq, { cause: err }) : err);
    });
  }

  /** One INSERT, or past MAX_ROWS_PER_STATEMENT bursts several in one transaction (all or nothing either way). */
  private async insertAll(bursts: readonly (readonly RunEvent[])[]): Promise<void> {
    if (bursts.length <= MAX_ROWS_PER_STATEMENT) return this.insertBursts(this.db, bursts);
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < bursts.length; i += MAX_ROWS_PER_STATEMENT) {
        await this.insertBursts(trx, bursts.slice(i, i + MAX_ROWS_PER_STATEMENT));
      }
    });
  }

  /**
   * One multi-row INSERT, a row per burst: a single statement is atomic on both engines. Building it with Kysely
   * cost more than running it (nodes, frozen arrays and compilation for every value), so the statement for each row
   * count is compiled once and run with fresh parameters, in the database or in a transaction alike.
   */
  private async insertBursts(db: Kysely<Database>, bursts: readonly (readonly RunEvent[])[]): Promise<void> {
    const parameters: unknown[] = [];
    for (const events of bursts) {
      const first = events[0]!;
      const last = events[events.length - 1]!;
      let body = encodeRunEvent(first);
      for (let i = 1; i < events.length; i++) body += `\n${encodeRunEvent(events[i]!)}`;
      parameters.push(first.runId, first.seq, last.seq, last.type, body);
    }
    await db.executeQuery(CompiledQuery.raw(this.insertSql(bursts.length), parameters));
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
      last_seq: -i,
      type: `type ${i}`,
      body: `body ${i}`,
    }));
    const compiled = this.db.insertInto('run_events').values(markers).compile();
    // Reusing the SQL is right only if it takes its parameters row after row, column after column.
    const expected = markers.flatMap((m) => [m.run_id, m.seq, m.last_seq, m.type, m.body]);
    if (compiled.parameters.length !== expected.length || compiled.parameters.some((p, i) => p !== expected[i])) {
      throw new Error('the run_events INSERT does not take its parameters in row order');
    }
    text = compiled.sql;
    if (this.inserts.size >= COMPILED_INSERTS_KEPT) this.inserts.delete(this.inserts.keys().next().value as number);
    this.inserts.set(rows, text);
    return text;
  }
}
