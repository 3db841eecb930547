import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { SQLITE_FILE } from '../storage/sqlite/database.js';

/**
 * Commits to a test server's SQLite file through a connection of its own, as the CLI does from another process:
 * the server then forgets the sessions it remembered (src/storage/sqlite/foreign-commits.ts) and reads them again.
 */
export function commitFromAnotherConnection(dataDir: string): void {
  const other = new SqliteDatabase(join(dataDir, SQLITE_FILE));
  try {
    other
      .prepare(
        "INSERT INTO cluster_settings (name, value, updated_at) VALUES ('test-probe', 'cli', '') ON CONFLICT (name) DO UPDATE SET value = value || '+'",
      )
      .run();
  } finally {
    other.close();
  }
}
