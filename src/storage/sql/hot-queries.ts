import type { Kysely, Selectable } from 'kysely';
import type { MessageRecord, NewThread, RunRecord } from '../../runs/index.js';
import type { Database, RunsTable, ThreadsTable } from '../schema.js';
import { PreparedQuery } from './prepared.js';

/** Runs with their last stored seq: the last seq of their last burst, found by run_events' primary key. */
export const selectRuns = (db: Kysely<Database>) =>
  db
    .selectFrom('runs')
    .selectAll('runs')
    .select((eb) =>
      eb
        .selectFrom('run_events')
        .select('run_events.last_seq')
        .whereRef('run_events.run_id', '=', 'runs.id')
        .orderBy('run_events.seq', 'desc')
        .limit(1)
        .as('last_seq'),
    );

/** The statements of every message and run (admission, history, answer, end), compiled once per store. */
export function hotQueries() {
  return {
    createThread: new PreparedQuery(5, (db, id: string, userId: string, title: string, at: string, updated: string) =>
      db.insertInto('threads').values({ id, user_id: userId, title, created_at: at, updated_at: updated }),
    ),
    getThread: new PreparedQuery(2, (db, userId: string, threadId: string) =>
      db.selectFrom('threads').selectAll().where('id', '=', threadId).where('user_id', '=', userId),
    ),
    countThreads: new PreparedQuery(1, (db, userId: string) =>
      db
        .selectFrom('threads')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('user_id', '=', userId),
    ),
    insertMessage: new PreparedQuery(
      7,
      (
        db,
        id: string,
        threadId: string,
        userId: string,
        role: MessageRecord['role'],
        text: string,
        runId: string | null,
        at: string,
      ) =>
        db.insertInto('messages').values({
          id,
          thread_id: threadId,
          user_id: userId,
          role,
          text,
          run_id: runId,
          created_at: at,
        }),
    ),
    newestMessages: new PreparedQuery(3, (db, userId: string, threadId: string, limit: number) =>
      db
        .selectFrom('messages')
        .selectAll()
        .where('thread_id', '=', threadId)
        .where('user_id', '=', userId)
        .orderBy('position', 'desc')
        .limit(limit),
    ),
    createRun: new PreparedQuery(
      8,
      (
        db,
        id: string,
        threadId: string,
        userId: string,
        status: string,
        errorCode: string | null,
        at: string,
        updated: string,
        instanceId: string | null,
      ) =>
        db.insertInto('runs').values({
          id,
          thread_id: threadId,
          user_id: userId,
          status,
          error_code: errorCode,
          created_at: at,
          updated_at: updated,
          instance_id: instanceId,
        }),
    ),
    getRun: new PreparedQuery(2, (db, userId: string, runId: string) =>
      selectRuns(db).where('id', '=', runId).where('user_id', '=', userId),
    ),
    // Only a running run can finish: a status already decided (e.g. by restart recovery) is never overwritten.
    finishRun: new PreparedQuery(4, (db, runId: string, status: string, errorCode: string | null, at: string) =>
      db
        .updateTable('runs')
        .set({ status, error_code: errorCode, updated_at: at })
        .where('id', '=', runId)
        .where('status', '=', 'running'),
    ),
    listActive: new PreparedQuery(1, (db, userId: string) =>
      selectRuns(db).where('user_id', '=', userId).where('status', '=', 'running').orderBy('created_at').orderBy('id'),
    ),
  };
}

export type HotQueries = ReturnType<typeof hotQueries>;

/** The single-row INSERTs, from records (the store's own path, and a failed batch's retries). */
export const insertRow = {
  thread: (q: HotQueries, db: Kysely<Database>, t: NewThread) =>
    q.createThread.execute(db, t.id, t.userId, t.title, t.createdAt, t.updatedAt),
  message: (q: HotQueries, db: Kysely<Database>, m: MessageRecord) =>
    q.insertMessage.execute(db, m.id, m.threadId, m.userId, m.role, m.text, m.runId, m.createdAt),
  run: (q: HotQueries, db: Kysely<Database>, r: RunRecord) =>
    q.createRun.execute(db, r.id, r.threadId, r.userId, r.status, r.errorCode, r.createdAt, r.updatedAt, r.instanceId),
};

/** A run as selectRuns reads it. */
export type RunRow = Selectable<RunsTable> & { last_seq: number | null };

/**
 * The statements of every message and run, gathered across runs: one statement per turn of the event loop for all
 * the runs that need it then (PostgreSQL, where each statement is a round trip and a parse). Each call still
 * settles on its own, with its own error.
 */
export interface BatchedStatements {
  thread(userId: string, threadId: string): Promise<Selectable<ThreadsTable> | undefined>;
  activeRuns(userId: string): Promise<RunRow[]>;
  threadCount(userId: string): Promise<number>;
  insertThread(t: NewThread): Promise<void>;
  insertMessage(m: MessageRecord): Promise<void>;
  insertRun(r: RunRecord): Promise<void>;
  finishRun(finish: RunFinish): Promise<void>;
}

/** finishRun's arguments. */
export interface RunFinish {
  readonly runId: string;
  readonly status: string;
  readonly errorCode: string | null;
  readonly at: string;
}
