import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { migrateToLatest } from '../migrations/index.js';
import type { Database } from '../schema.js';
import type { BusLink } from '../../auth/index.js';
import { startCheckpointer, type Checkpointer } from './checkpointer.js';
import { ForeignCommits } from './foreign-commits.js';
import { GroupCommitSqliteDialect } from './group-commit.js';
import { withStatementCache } from './statement-cache.js';

export const SQLITE_FILE = 'agentgate.sqlite';

/** Opens (creating if needed) the embedded database under dataDir and brings its schema up to date. */
export async function openSqlite(dataDir: string): Promise<Kysely<Database>> {
  return (await openSqliteWatched(dataDir)).db;
}

/**
 * Commits after which checkpoints move to a worker thread (see startCheckpointer). Until then SQLite's automatic
 * checkpoint is cheap enough, and a small or short-lived process (a CLI command, a test) never pays for a thread.
 */
export const CHECKPOINT_WORKER_AFTER_COMMITS = 1_000;

/** openSqlite, with a watch on commits other processes make to the file (see ForeignCommits). */
export async function openSqliteWatched(
  dataDir: string,
  checkpointWorkerAfterCommits = CHECKPOINT_WORKER_AFTER_COMMITS,
): Promise<{ db: Kysely<Database>; foreignCommits: BusLink }> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const native = new SqliteDatabase(join(dataDir, SQLITE_FILE));
  // WAL lets readers run beside the writer; NORMAL sync is durable across process crashes, which is our bar.
  native.pragma('journal_mode = WAL');
  native.pragma('synchronous = NORMAL');
  native.pragma('foreign_keys = ON');
  native.pragma('busy_timeout = 5000');
  // Migrations run on Kysely's own driver (DDL, one at a time); serving uses group commit (group-commit.ts).
  const migrator = new Kysely<unknown>({ dialect: new SqliteDialect({ database: withStatementCache(native) }) });
  await migrateToLatest(migrator, 'sqlite');
  let checkpointer: Checkpointer | undefined;
  const hooks = {
    // From then on checkpoints run on a worker; if it fails, this connection takes them back.
    afterCommit: (commits: number) => {
      if (commits !== checkpointWorkerAfterCommits) return;
      native.pragma('wal_autocheckpoint = 0');
      checkpointer = startCheckpointer(native.name, () => {
        if (native.open) native.pragma('wal_autocheckpoint = 1000');
      });
    },
    beforeClose: async () => checkpointer?.stop(),
  };
  return {
    db: new Kysely<Database>({ dialect: new GroupCommitSqliteDialect(native, hooks) }),
    foreignCommits: new ForeignCommits(native),
  };
}
