import { existsSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { SQLITE_FILE } from './database.js';

/** A recorded cluster setting, read-only (nothing is created or migrated); undefined when there is none yet. */
export function peekSqliteSetting(dataDir: string, name: string): string | undefined {
  const file = join(dataDir, SQLITE_FILE);
  if (!existsSync(file)) return undefined;
  const native = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
  try {
    const row = native.prepare('select value from cluster_settings where name = ?').get(name) as
      { value: string } | undefined;
    return row?.value;
  } catch {
    return undefined; // Not migrated that far yet: nothing is recorded.
  } finally {
    native.close();
  }
}
