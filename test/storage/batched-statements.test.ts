import { randomUUID } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunRecord } from '../../src/runs/index.js';
import { openPostgres, postgresConversationStore, type Database } from '../../src/storage/index.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { createTestDatabase } from '../../src/testing/services.js';
import { storedUser } from '../runs/run-manager-deps.js';

describeWithServices(['postgres'], 'PostgreSQL: the statements of runs that arrive together', () => {
  let database: { url: string; drop(): Promise<void> };
  let db: Kysely<Database>;
  const statements: string[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
    await (await openPostgres({ url: database.url, poolSize: 2 })).destroy(); // migrated
    const pool = new pg.Pool({ connectionString: database.url, max: 4 });
    db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool }),
      log: (event) => void statements.push(event.query.sql.split(' ').slice(0, 3).join(' ')),
    });
  });
  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });

  it('are one statement per kind for the whole turn, each call answered on its own', async () => {
    const store = postgresConversationStore(db);
    const users = await Promise.all(Array.from({ length: 5 }, () => storedUser(db)));
    const at = new Date().toISOString();
    const threads = users.map((userId) => ({ id: randomUUID(), userId, title: 't', createdAt: at, updatedAt: at }));
    const run = (t: (typeof threads)[number]): RunRecord => ({
      id: randomUUID(),
      threadId: t.id,
      userId: t.userId,
      status: 'running',
      errorCode: null,
      lastSeq: 0,
      createdAt: at,
      updatedAt: at,
      instanceId: null,
    });
    statements.length = 0;
    await Promise.all(threads.map((t) => store.createThread(t)));
    const counts = await Promise.all(users.map((u) => store.countThreads(u)));
    const runs = threads.map(run);
    await Promise.all(runs.map((r) => store.createRun(r)));
    const active = await Promise.all(users.map((u) => store.listActive(u)));
    const found = await Promise.all(threads.map((t, i) => store.getThread(users[(i + 1) % users.length]!, t.id)));
    expect(counts).toEqual([1, 1, 1, 1, 1]);
    expect(active.map((rs) => rs.map((r) => r.id))).toEqual(runs.map((r) => [r.id]));
    // Asked by another user: none is found.
    expect(found).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(statements).toEqual([
      'insert into "threads"',
      'select "user_id", count(*)',
      'insert into "runs"',
      'select "runs".*, (select',
      'select * from',
    ]);
  });
});
