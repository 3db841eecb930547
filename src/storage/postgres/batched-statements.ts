import DataLoader from 'dataloader';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { MessageRecord, NewThread, RunRecord } from '../../runs/index.js';
import type { Database, ThreadsTable } from '../schema.js';
import { SqlConversationStore } from '../sql/conversation-store.js';
import {
  hotQueries,
  insertRow,
  selectRuns,
  type BatchedStatements,
  type HotQueries,
  type RunFinish,
  type RunRow,
} from '../sql/hot-queries.js';
import { allOrEach } from '../sql/all-or-each.js';
import { PreparedQuery } from '../sql/prepared.js';

/**
 * Everything asked in one turn of the event loop goes in one statement: `setImmediate` runs after the turn's
 * socket reads, so the messages that arrived together share it. No cache: every call reads afresh.
 */
const PER_TURN = { cache: false, maxBatchSize: 500, batchScheduleFn: (run: () => void) => setImmediate(run) };

/** One statement whatever the batch size (arrays as parameters), so PostgreSQL parses each once per connection. */
function batchedQueries() {
  return {
    threads: new PreparedQuery(1, (db, ids: string[]) =>
      db
        .selectFrom('threads')
        .selectAll()
        .where('id', '=', sql<string>`any(${ids}::text[])`),
    ),
    threadCounts: new PreparedQuery(1, (db, userIds: string[]) =>
      db
        .selectFrom('threads')
        .select((eb) => ['user_id', eb.fn.countAll<string>().as('n')])
        .where('user_id', '=', sql<string>`any(${userIds}::text[])`)
        .groupBy('user_id'),
    ),
    insertThreads: new PreparedQuery(
      5,
      (db, ids: string[], userIds: string[], titles: string[], createdAts: string[], updatedAts: string[]) =>
        db
          .insertInto('threads')
          .columns(['id', 'user_id', 'title', 'created_at', 'updated_at'])
          .expression(
            sql`select * from unnest(${ids}::text[], ${userIds}::text[], ${titles}::text[], ${createdAts}::text[], ${updatedAts}::text[])`,
          ),
    ),
    // Only a running run can finish: a status already decided (e.g. by orphan recovery) is never overwritten.
    finishRuns: new PreparedQuery(
      4,
      (db, runIds: string[], statuses: string[], errorCodes: (string | null)[], ats: string[]) =>
        db
          .updateTable('runs')
          .from(
            sql<{
              id: string;
              status: string;
              error_code: string | null;
              updated_at: string;
            }>`unnest(${runIds}::text[], ${statuses}::text[], ${errorCodes}::text[], ${ats}::text[])`.as(
              sql`finished(id, status, error_code, updated_at)`,
            ),
          )
          .set((eb) => ({
            status: eb.ref('finished.status'),
            error_code: eb.ref('finished.error_code'),
            updated_at: eb.ref('finished.updated_at'),
          }))
          .whereRef('runs.id', '=', 'finished.id')
          .where('runs.status', '=', 'running'),
    ),
    activeRuns: new PreparedQuery(1, (db, userIds: string[]) =>
      selectRuns(db)
        .where('user_id', '=', sql<string>`any(${userIds}::text[])`)
        .where('status', '=', 'running')
        .orderBy('created_at')
        .orderBy('id'),
    ),
    insertMessages: new PreparedQuery(
      7,
      (
        db,
        ids: string[],
        threadIds: string[],
        userIds: string[],
        roles: string[],
        texts: string[],
        runIds: (string | null)[],
        createdAts: string[],
      ) =>
        db
          .insertInto('messages')
          .columns(['id', 'thread_id', 'user_id', 'role', 'text', 'run_id', 'created_at'])
          // unnest keeps the arrays' order: messages of one thread keep their order of arrival.
          .expression(
            sql`select * from unnest(${ids}::text[], ${threadIds}::text[], ${userIds}::text[], ${roles}::text[], ${texts}::text[], ${runIds}::text[], ${createdAts}::text[])`,
          ),
    ),
    insertRuns: new PreparedQuery(
      8,
      (
        db,
        ids: string[],
        threadIds: string[],
        userIds: string[],
        statuses: string[],
        errorCodes: (string | null)[],
        createdAts: string[],
        updatedAts: string[],
        instanceIds: (string | null)[],
      ) =>
        db
          .insertInto('runs')
          .columns(['id', 'thread_id', 'user_id', 'status', 'error_code', 'created_at', 'updated_at', 'instance_id'])
          .expression(
            sql`select * from unnest(${ids}::text[], ${threadIds}::text[], ${userIds}::text[], ${statuses}::text[], ${errorCodes}::text[], ${createdAts}::text[], ${updatedAts}::text[], ${instanceIds}::text[])`,
          ),
    ),
  };
}

/**
 * The hot statements of PostgreSQL, gathered across runs (see BatchedStatements): at a thousand busy connections a
 * turn holds tens of messages, and each statement saved is a round trip, a parse and a wake-up of the server.
 * An INSERT of a batch is all or nothing; when it fails, each row is inserted alone, so only the guilty one fails
 * (a client-minted run id that is taken, a thread deleted meanwhile).
 */
export class PostgresBatchedStatements implements BatchedStatements {
  private readonly q = batchedQueries();
  private readonly threads: DataLoader<string, Selectable<ThreadsTable> | undefined>;
  private readonly runsOf: DataLoader<string, RunRow[]>;
  private readonly messages: DataLoader<MessageRecord, void>;
  private readonly runs: DataLoader<RunRecord, void>;
  private readonly counts: DataLoader<string, number>;
  private readonly newThreads: DataLoader<NewThread, void>;
  private readonly finishes: DataLoader<RunFinish, void>;

  constructor(db: Kysely<Database>, single: HotQueries) {
    this.threads = new DataLoader(async (ids) => {
      const { rows } = await this.q.threads.execute(db, [...new Set(ids)]);
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id));
    }, PER_TURN);
    this.runsOf = new DataLoader(async (userIds) => {
      const { rows } = await this.q.activeRuns.execute(db, [...new Set(userIds)]);
      const byUser = new Map<string, RunRow[]>();
      for (const row of rows) {
        const of = byUser.get(row.user_id);
        if (of === undefined) byUser.set(row.user_id, [row]);
        else of.push(row);
      }
      return userIds.map((userId) => byUser.get(userId) ?? []);
    }, PER_TURN);
    this.counts = new DataLoader(async (userIds) => {
      const { rows } = await this.q.threadCounts.execute(db, [...new Set(userIds)]);
      const byUser = new Map(rows.map((row) => [row.user_id, Number(row.n)]));
      return userIds.map((userId) => byUser.get(userId) ?? 0);
    }, PER_TURN);
    this.newThreads = insertLoader(
      (ts) =>
        this.q.insertThreads.execute(
          db,
          ts.map((t) => t.id),
          ts.map((t) => t.userId),
          ts.map((t) => t.title),
          ts.map((t) => t.createdAt),
          ts.map((t) => t.updatedAt),
        ),
      (t) => insertRow.thread(single, db, t),
    );
    // An UPDATE of a batch does not fail for one row: a run already finished is simply left as it is.
    this.finishes = new DataLoader(async (batch) => {
      await this.q.finishRuns.execute(
        db,
        batch.map((f) => f.runId),
        batch.map((f) => f.status),
        batch.map((f) => f.errorCode),
        batch.map((f) => f.at),
      );
      return batch.map(() => undefined);
    }, PER_TURN);
    this.messages = insertLoader(
      (batch) => {
        // The trigger locks each message's thread: in one order (by thread, arrival order kept within one) on
        // every instance, so two batches cannot deadlock on two threads taken in opposite orders.
        const ms = [...batch].sort((x, y) => (x.threadId < y.threadId ? -1 : x.threadId > y.threadId ? 1 : 0));
        return this.q.insertMessages.execute(
          db,
          ms.map((m) => m.id),
          ms.map((m) => m.threadId),
          ms.map((m) => m.userId),
          ms.map((m) => m.role),
          ms.map((m) => m.text),
          ms.map((m) => m.runId),
          ms.map((m) => m.createdAt),
        );
      },
      (m) => insertRow.message(single, db, m),
    );
    this.runs = insertLoader(
      (rs) =>
        this.q.insertRuns.execute(
          db,
          rs.map((r) => r.id),
          rs.map((r) => r.threadId),
          rs.map((r) => r.userId),
          rs.map((r) => r.status),
          rs.map((r) => r.errorCode),
          rs.map((r) => r.createdAt),
          rs.map((r) => r.updatedAt),
          rs.map((r) => r.instanceId),
        ),
      (r) => insertRow.run(single, db, r),
    );
  }

  async thread(userId: string, threadId: string): Promise<Selectable<ThreadsTable> | undefined> {
    const row = await this.threads.load(threadId);
    return row?.user_id === userId ? row : undefined;
  }

  activeRuns(userId: string): Promise<RunRow[]> {
    return this.runsOf.load(userId);
  }

  threadCount(userId: string): Promise<number> {
    return this.counts.load(userId);
  }

  insertThread(t: NewThread): Promise<void> {
    return this.newThreads.load(t);
  }

  finishRun(finish: RunFinish): Promise<void> {
    return this.finishes.load(finish);
  }

  insertMessage(m: MessageRecord): Promise<void> {
    return this.messages.load(m);
  }

  insertRun(r: RunRecord): Promise<void> {
    return this.runs.load(r);
  }
}

/** The conversation and run store on PostgreSQL: its hot statements gathered across runs. */
export function postgresConversationStore(db: Kysely<Database>): SqlConversationStore {
  return new SqlConversationStore(db, new PostgresBatchedStatements(db, hotQueries()));
}

/** Rows inserted per turn: the batch in one statement; if it fails, each row alone, so only the guilty ones fail. */
function insertLoader<T>(
  all: (items: readonly T[]) => Promise<unknown>,
  each: (item: T) => Promise<unknown>,
): DataLoader<T, void> {
  return new DataLoader(async (batch) => {
    const outcomes = await allOrEach(batch, all, each);
    return outcomes.map((o) =>
      o.status === 'fulfilled' ? undefined : o.reason instanceof Error ? o.reason : new Error(String(o.reason)),
    );
  }, PER_TURN);
}
