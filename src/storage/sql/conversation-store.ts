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

export class SqlConversationStore implements ConversationStore, RunStore {
  constructor(private readonly db: Kysely<Database>) {}

  async createThread(t: NewThread): Promise<void> {
    await this.db
      .insertInto('threads')
      .values({ id: t.id, user_id: t.userId, title: t.title, created_at: t.createdAt, updated_at: t.updatedAt })
      .execute();
  }

  async getThread(userId: string, threadId: string): Promise<ThreadRecord | undefined> {
    const row = await this.db
      .selectFrom('threads')
      .selectAll()
      .where('id', '=', threadId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
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
    const row = await this.db
      .selectFrom('threads')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
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

  async addMessage(m: MessageRecord): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('messages')
        .values({
          id: m.id,
          thread_id: m.threadId,
          user_id: m.userId,
          role: m.role,
          text: m.text,
          run_id: m.runId,
          created_at: m.createdAt,
        })
        .execute();
      await trx
        .updateTable('threads')
        .set((eb) => ({ updated_at: m.createdAt, message_count: eb('message_count', '+', 1) }))
        .where('id', '=', m.threadId)
        .execute();
    });
  }

  async listMessages(
    userId: string,
    threadId: string,
    page: PageRequest<number>,
  ): Promise<Page<MessageRecord, number>> {
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
    const newest = rows.slice(0, page.limit).reverse();
    const oldest = newest[0];
    return { items: newest.map(toMessage), next: rows.length > page.limit && oldest ? oldest.position : undefined };
  }

  /** Runs with their last stored seq, read from run_events' primary key. */
  private selectRuns() {
    return this.db
      .selectFrom('runs')
      .selectAll('runs')
      .select((eb) =>
        eb
          .selectFrom('run_events')
          .select((e) => e.fn.max('run_events.seq').as('m'))
          .whereRef('run_events.run_id', '=', 'runs.id')
          .as('last_seq'),
      );
  }

  async createRun(r: RunRecord): Promise<void> {
    await this.db
      .insertInto('runs')
      .values({
        id: r.id,
        thread_id: r.threadId,
        user_id: r.userId,
        status: r.status,
        error_code: r.errorCode,
        created_at: r.createdAt,
        updated_at: r.updatedAt,
        instance_id: r.instanceId,
      })
      .execute();
  }

  async getRun(userId: string, runId: string): Promise<RunRecord | undefined> {
    const row = await this.selectRuns().where('id', '=', runId).where('user_id', '=', userId).executeTakeFirst();
    return row && toRun(row);
  }

  async listRuns(userId: string, threadId: string): Promise<RunRecord[]> {
    const rows = await this.selectRuns()
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
    // Only a running run can finish: a status already decided (e.g. by restart recovery) is never overwritten.
    await this.db
      .updateTable('runs')
      .set({ status, error_code: errorCode, updated_at: now })
      .where('id', '=', runId)
      .where('status', '=', 'running')
      .execute();
  }

  async listUnfinished(): Promise<RunRecord[]> {
    const rows = await this.selectRuns().where('status', '=', 'running').execute();
    return rows.map(toRun);
  }

  async listActive(userId: string): Promise<RunRecord[]> {
    const rows = await this.selectRuns()
      .where('user_id', '=', userId)
      .where('status', '=', 'running')
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toRun);
  }
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
