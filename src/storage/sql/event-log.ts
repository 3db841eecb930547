import type { Kysely } from 'kysely';
import { RunEventSchema, type RunEvent } from '../../protocol/index.js';
import { SeqTakenError, type EventLog } from '../../runs/index.js';
import type { Database } from '../schema.js';
import { isUniqueViolation } from './unique-violation.js';

export class SqlEventLog implements EventLog {
  constructor(private readonly db: Kysely<Database>) {}

  async append(events: readonly RunEvent[]): Promise<void> {
    const first = events[0];
    if (first === undefined) return;
    try {
      // One multi-row INSERT: a single statement is atomic on both engines, so no transaction is needed.
      await this.db
        .insertInto('run_events')
        .values(events.map((event) => ({ run_id: event.runId, seq: event.seq, type: event.type, body: JSON.stringify(event) })))
        .execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new SeqTakenError(first.runId, first.seq, { cause: err });
      throw err;
    }
  }

  async list(runId: string, afterSeq: number): Promise<RunEvent[]> {
    const rows = await this.db.selectFrom('run_events').select('body').where('run_id', '=', runId).where('seq', '>', afterSeq).orderBy('seq').execute();
    // Parsing guards against rows written by an incompatible version rather than trusting the cast.
    return rows.map((r) => RunEventSchema.parse(JSON.parse(r.body)));
  }
}
