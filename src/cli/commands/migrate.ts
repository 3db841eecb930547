import { migrateDatabase } from '../../app/index.js';
import { parseCommand } from '../args.js';
import { configOrReport, describeStorage } from '../config.js';
import { EXIT, EXIT_CODES_HELP } from '../exit-codes.js';
import { messageOf, print, type CliIo } from '../io.js';

export const MIGRATE_HELP = `Usage: agentgate migrate
  Brings the configured database (SQLite under DATA_DIR, or PostgreSQL with DATABASE_URL) up to the latest
  schema, prints what it applied, and exits. \`serve\` does the same at start-up; run this first to migrate
  before a deploy. Several instances migrating at once are safe (PostgreSQL holds an advisory lock).

${EXIT_CODES_HELP}
  migrate: 0 up to date, 1 invalid configuration, database unreachable or a migration failed.`;

export async function migrate(args: readonly string[], io: CliIo): Promise<number> {
  if (parseCommand(args, {}) === undefined) return (print(io.stdout, MIGRATE_HELP), EXIT.ok);
  const config = configOrReport(io);
  if (config === undefined) return EXIT.failure;
  const startedAt = new Date().toISOString();
  let applied;
  try {
    applied = await migrateDatabase(config);
  } catch (err) {
    print(io.stderr, `agentgate migrate failed (${describeStorage(config)}): ${messageOf(err)}`);
    return EXIT.failure;
  }
  const now = applied.filter((m) => m.timestamp >= startedAt).map((m) => m.name);
  print(
    io.stdout,
    now.length === 0
      ? 'No pending migrations.'
      : `Applied ${now.length} migration${now.length === 1 ? '' : 's'}: ${now.join(', ')}.`,
  );
  print(
    io.stdout,
    `The database is at ${applied.at(-1)?.name ?? '(empty)'} (${applied.length} migrations; ${describeStorage(config)}).`,
  );
  return EXIT.ok;
}
