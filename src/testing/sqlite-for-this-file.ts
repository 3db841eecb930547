import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { afterAll } from 'vitest';
import { openSqlite } from '../storage/index.js';
import type { Database } from '../storage/index.js';

/** A SQLite database in a fresh temporary directory, closed and deleted once the test file is done. */
export async function sqliteForThisFile(name: string): Promise<Kysely<Database>> {
  const dir = mkdtempSync(join(tmpdir(), `agentgate-${name}-`));
  const db = await openSqlite(dir);
  afterAll(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  return db;
}
