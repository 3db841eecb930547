import type { Kysely, Selectable } from 'kysely';
import type { RunStatus } from '../../protocol/index.js';
import type {
  ConversationStore,
  MessageRecord,
  NewThread,
  Page,
  PageRequest,
  RunRecord,
  RunStore,
  ThreadCursor,
  ThreadRecord,
} from '../../runs/index.js';
import type { Database, MessagesTable, RunsTable, ThreadsTable } from '../schema.js';
import { hotQueries, insertRow, selectRuns, type BatchedStatements } from './hot-queries.js';

export class SqlConversationStore implements ConversationStore, RunStore {
  private readonly hot = hotQueries();

  constructor(
    private readonly db: Kysely<Database>,
    /** Where given (PostgreSQL), the statements of every message and run are gathered across runs. */
    private readonly batched?: BatchedStatements,
  ) {}

  async createThread(t: NewThread): Promise<void> {
    if (this.batched) return this.batched.insertThread(t);
    await insertRow.thread(this.hot, this.db, t);
  }

  async getThread(userId: string, threadId: string): Promise<ThreadRecord | undefined> {
    const row = this.batched
      ? await this.batched.thread(userId, threadId)
      : await this.hot.getThread.first(this.db, userId, threadId);
    return row && toThread(row);
  }

  async renameThread(userId: string, threadId: string, title: string): Promise<boolean> {
    const result = await this.db
      .updateTable('threads')
      .set({ title })
      .where('id', '=', threadId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  // Messages, runs and run events go with it: their foreign keys cascade (migration 001).
  async deleteThread(userId: string, threadId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('threads')
      .where('id', '=', threadId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async deleteIdleThreads(before: string, limit: number): Promise<number> {
    const idle = await this.db
      .selectFrom('threads')
      .select('id')
      .where('updated_at', '<', before)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('runs')
              .select('runs.id')
              .whereRef('runs.thread_id', '=', 'threads.id')
              .where('runs.status', '=', 'running'),
          ),
        ),
      )
      .limit(limit)
      .execute();
    if (idle.length === 0) return 0;
    const result = await this.db
      .deleteFrom('threads')
      .where(
        'id',
        'in',
        idle.map((t) => t.id),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async setThreadState(userId: string, threadId: string, state: string): Promise<void> {
    await this.db
      .updateTable('threads')
      .set({ agent_state: state })
      .where('id', '=', threadId)
      .where('user_id', '=', userId)
      .execute();
  }

  async countThreads(userId: string): Promise<number> {
    if (this.batched) return this.batched.threadCount(userId);
    return Number((await this.hot.countThreads.first(this.db, userId))?.n ?? 0);
  }

  async listThreads(userId: string, page: PageRequest<ThreadCursor>): Promise<Page<ThreadRecord, ThreadCursor>> {
    const { before } = page;
    let query = this.db.selectFrom('threads').selectAll().where('user_id', '=', userId);
    if (before !== undefined) {
      query = query.where((eb) =>
        eb.or([
          eb('updated_at', '<', before.updatedAt),
          eb.and([eb('updated_at', '=', before.updatedAt), eb('id', '>', before.id)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('updated_at', 'desc')
      .orderBy('id')
      .limit(page.limit + 1)
      .execute();
    const items = rows.slice(0, page.limit).map(toThread);
    const last = items.at(-1);
    return { items, next: rows.length > page.limit && last ? { updatedAt: last.updatedAt, id: last.id } : undefined };
  }

  /** One INSERT: its thread's message_count and updated_at follow by a trigger (migration 010). */
  async addMessage(m: MessageRecord): Promise<void> {
    if (this.batched) return this.batched.insertMessage(m);
    await insertRow.message(this.hot, this.db, m);
  }

  async listMessages(
    userId: string,
    threadId: string,
    page: PageRequest<number>,
  ): Promise<Page<MessageRecord, number>> {
    if (page.before === undefined) {
      const { rows } = await this.hot.newestMessages.execute(this.db, userId, threadId, page.limit + 1);
      return messagePage(rows, page.limit);
    }
    let query = this.db
      .selectFrom('messages')
      .selectAll()
      .where('thread_id', '=', threadId)
      .where('user_id', '=', userId);
    if (page.before !== undefined) query = query.where('position', '<', page.before);
    const rows = await query
      .orderBy('position', 'desc')
      .limit(page.limit + 1)
      .execute();
    return messagePage(rows, page.limit);
  }

  async createRun(r: RunRecord): Promise<void> {
    if (this.batched) return this.batched.insertRun(r);
    await insertRow.run(this.hot, this.db, r);
  }

  async getRun(userId: string, runId: string): Promise<RunRecord | undefined> {
    const row = await this.hot.getRun.first(this.db, userId, runId);
    return row && toRun(row);
  }

  async listRuns(userId: string, threadId: string): Promise<RunRecord[]> {
    const rows = await selectRuns(this.db)
      .where('thread_id', '=', threadId)
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toRun);
  }

  async isRunIdTaken(runId: string): Promise<boolean> {
    return (await this.db.selectFrom('runs').select('id').where('id', '=', runId).executeTakeFirst()) !== undefined;
  }

  async finishRun(runId: string, status: RunStatus, errorCode: string | null, now: string): Promise<void> {
    if (this.batched) return this.batched.finishRun({ runId, status, errorCode, at: now });
    await this.hot.finishRun.execute(this.db, runId, status, errorCode, now);
  }

  async listUnfinished(): Promise<RunRecord[]> {
    const rows = await selectRuns(this.db).where('status', '=', 'running').execute();
    return rows.map(toRun);
  }

  async listActive(userId: string): Promise<RunRecord[]> {
    const rows = this.batched
      ? await this.batched.activeRuns(userId)
      : (await this.hot.listActive.execute(this.db, userId)).rows;
    return rows.map(toRun);
  }
}

/** A page of a thread's messages from its newest `limit + 1` (the one more tells whether older ones remain). */
function messagePage(rows: readonly Selectable<MessagesTable>[], limit: number): Page<MessageRecord, number> {
  const newest = rows.slice(0, limit).reverse();
  const oldest = newest[0];
  return { items: newest.map(toMessage), next: rows.length > limit && oldest ? oldest.position : undefined };
}

const toThread = (r: Selectable<ThreadsTable>): ThreadRecord => ({
  id: r.id,
  userId: r.user_id,
  title: r.title,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  messageCount: r.message_count,
  agentState: r.agent_state,
});

const toMessage = (r: Omit<MessagesTable, 'position'>): MessageRecord => ({
  id: r.id,
  threadId: r.thread_id,
  userId: r.user_id,
  role: r.role,
  text: r.text,
  runId: r.run_id,
  createdAt: r.created_at,
});

const toRun = (r: RunsTable & { last_seq: number | null }): RunRecord => ({
  id: r.id,
  threadId: r.thread_id,
  userId: r.user_id,
  status: r.status as RunStatus,
  errorCode: r.error_code,
  lastSeq: r.last_seq ?? 0,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  instanceId: r.instance_id,
});
