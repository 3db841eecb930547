import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteWatched, SQLITE_FILE } from '../../src/storage/sqlite/database.js';

const dir = mkdtempSync(join(tmpdir(), 'agentgate-checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite checkpoints on a worker thread', () => {
  it('once the process has committed enough, copies the log into the database file; the serving connection no longer checkpoints', async () => {
    const { db } = await openSqliteWatched(dir, 2);
    const size = (suffix = '') => statSync(join(dir, SQLITE_FILE + suffix)).size;
    const autocheckpoint = async () =>
      (await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(db)).rows[0]?.wal_autocheckpoint;
    await sql`create table filler (body text)`.execute(db);
    // One commit: SQLite's own checkpoints still, no worker yet.
    expect(await autocheckpoint()).toBe(1000);
    await sql`insert into filler values ('second commit')`.execute(db);
    expect(await autocheckpoint()).toBe(0);
    const before = size();
    // About 2 MB in the log: the serving connection alone would leave it all there.
    for (let i = 0; i < 20; i++) {
      await db
        .withTables<{ filler: { body: string } }>()
        .insertInto('filler')
        .values(Array.from({ length: 100 }, () => ({ body: 'x'.repeat(1_000) })))
        .execute();
    }
    expect(size('-wal')).toBeGreaterThan(2_000_000);
    const deadline = Date.now() + 5_000;
    while (size() < before + 2_000_000 && Date.now() < deadline) await delay(50);
    expect(size()).toBeGreaterThan(before + 2_000_000);
    await db.destroy();
  });
});
