import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/storage/index.js';
import { SQLITE_FILE } from '../../src/storage/sqlite/database.js';

const dir = mkdtempSync(join(tmpdir(), 'agentgate-checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite checkpoints on a worker thread', () => {
  it('copies the log into the database file while the serving connection never checkpoints', async () => {
    const db = await openSqlite(dir);
    const size = (suffix = '') => statSync(join(dir, SQLITE_FILE + suffix)).size;
    const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(db);
    expect(rows[0]?.wal_autocheckpoint).toBe(0);
    const before = size();
    // About 2 MB in the log: the serving connection alone would leave it all there.
    await sql`create table filler (body text)`.execute(db);
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
