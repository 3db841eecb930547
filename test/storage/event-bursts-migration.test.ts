import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { sqliteForThisFile } from '../../src/testing/sqlite-for-this-file.js';
import type { RunEvent } from '../../src/protocol/index.js';
import * as eventBursts from '../../src/storage/migrations/009-event-bursts.js';
import { SqlConversationStore, SqlEventLog } from '../../src/storage/index.js';
import { storedUser } from '../runs/run-manager-deps.js';

const db = await sqliteForThisFile('migration');

describe('migration 009: a burst of events is one row', () => {
  it('keeps every event across down (a row per event) and up (bursts of one) again', async () => {
    const store = new SqlConversationStore(db);
    const log = new SqlEventLog(db);
    await storedUser(db, { id: 'u1' });
    const at = new Date().toISOString();
    await store.createThread({ id: 't1', userId: 'u1', title: 't', createdAt: at, updatedAt: at });
    const run = { id: 'r1', threadId: 't1', userId: 'u1', status: 'running', errorCode: null, lastSeq: 0 } as const;
    await store.createRun({ ...run, createdAt: at, updatedAt: at, instanceId: null });
    const ev = (seq: number): RunEvent => ({
      type: 'agent_message_delta',
      text: `d${seq}\n`,
      runId: 'r1',
      threadId: 't1',
      seq,
      ts: at,
    });
    await log.append([ev(1), ev(2), ev(3)]);
    await log.append([ev(4)]);
    await log.append([ev(5), ev(6)]);
    const rows = () => db.selectFrom('run_events').select(['seq', 'last_seq']).orderBy('seq').execute();
    expect(await rows()).toEqual([
      { seq: 1, last_seq: 3 },
      { seq: 4, last_seq: 4 },
      { seq: 5, last_seq: 6 },
    ]);

    await eventBursts.down(db as unknown as Kysely<unknown>);
    const single = await db.selectFrom('run_events').select(['seq', 'type', 'body']).orderBy('seq').execute();
    expect(single.map((r) => [r.seq, r.type, JSON.parse(r.body) as unknown])).toEqual(
      [1, 2, 3, 4, 5, 6].map((seq) => [seq, 'agent_message_delta', ev(seq)]),
    );

    await eventBursts.up(db as unknown as Kysely<unknown>);
    expect((await rows()).map((r) => [r.seq, r.last_seq])).toEqual([1, 2, 3, 4, 5, 6].map((seq) => [seq, seq]));
    expect(await log.list('r1', 2)).toEqual([3, 4, 5, 6].map(ev));
    expect((await store.getRun('u1', 'r1'))?.lastSeq).toBe(6);
    await log.append([ev(7), ev(8)]);
    expect((await log.list('r1', 0)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
