import { randomUUID } from 'node:crypto';
import { normalizeEmail, PasswordHasher, type UserRecord } from '../../auth/index.js';
import type { Config } from '../../config/index.js';
import { isAppError } from '../../errors/index.js';
import { RegisterBody } from '../../protocol/index.js';
import { RedisBroadcast, RedisConnection, SqlUserStore } from '../../storage/index.js';
import { parseCommand, required, UsageError } from '../args.js';
import { configOrReport, describeStorage } from '../config.js';
import { openDatabase } from '../database.js';
import { EXIT, EXIT_CODES_HELP } from '../exit-codes.js';
import { print, promptHidden, readFirstLine, type CliIo } from '../io.js';
import { messageOf } from './migrate.js';

export const USER_HELP = `Usage: agentgate user <create|list|disable|enable> [options]
  Administers accounts directly in the configured database (SQLite under DATA_DIR, or DATABASE_URL); the
  server need not run. Admins are named by ADMIN_EMAILS, never stored.

  user create --email EMAIL [--display-name NAME] [--password-stdin] [--json]
      Creates an account. The password is read from stdin (--password-stdin: its first line), or asked for
      without echo on a terminal. Never pass it as an argument. Same rules as POST /auth/register.
  user list [--json] [--demo]
      Lists accounts, oldest first (demo accounts only with --demo). Never prints password hashes.
  user disable --email EMAIL
      Disables the account: login, refresh and every access token of it are refused from now on, and its
      sessions are revoked. With REDIS_URL, running servers are told and close its WebSockets at once (1008
      session revoked). Without Redis a running server cannot be told: its open WebSockets close when their
      access token expires (at most ACCESS_TOKEN_TTL_SECONDS), since renewing it is refused.
  user enable --email EMAIL
      Allows the account to log in again (revoked sessions stay revoked).

${EXIT_CODES_HELP}
  user: 0 done, 1 database unreachable or invalid configuration, 2 usage error (also: a password or email the
  register rules refuse), 4 no such user (disable, enable) or email taken (create).`;

type Subcommand = (args: readonly string[], io: CliIo, config: Config, users: SqlUserStore) => Promise<number>;

const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = { create, list, disable, enable };

export async function user(args: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h')
    return (print(name === undefined ? io.stderr : io.stdout, USER_HELP), name === undefined ? EXIT.usage : EXIT.ok);
  const subcommand = SUBCOMMANDS[name];
  if (subcommand === undefined) throw new UsageError(`Unknown user command "${name}".`);
  if (rest.includes('--help') || rest.includes('-h')) return (print(io.stdout, USER_HELP), EXIT.ok);
  const config = configOrReport(io);
  if (config === undefined) return EXIT.failure;
  let db;
  try {
    db = await openDatabase(config);
  } catch (err) {
    print(io.stderr, `Cannot open the database (${describeStorage(config)}): ${messageOf(err)}`);
    return EXIT.failure;
  }
  try {
    return await subcommand(rest, io, config, new SqlUserStore(db));
  } finally {
    await db.destroy();
  }
}

async function create(args: readonly string[], io: CliIo, _config: Config, users: SqlUserStore): Promise<number> {
  const parsed = parseCommand(args, {
    email: { type: 'string' },
    'display-name': { type: 'string' },
    'password-stdin': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (parsed === undefined) return EXIT.ok;
  const email = required(parsed.values.email, 'email');
  let password: string;
  if (parsed.values['password-stdin'] === true) password = await readFirstLine(io.stdin);
  else if (io.stdin.isTTY === true) password = await promptHidden(io, 'Password: ');
  else throw new UsageError('Give the password on stdin with --password-stdin (never as an argument).');
  const body = RegisterBody.safeParse({ email, password, displayName: parsed.values['display-name'] });
  if (!body.success) throw new UsageError(body.error.issues.map((i) => i.message).join('; '));
  const record: UserRecord = {
    id: randomUUID(),
    email: body.data.email,
    passwordHash: await new PasswordHasher().hash(body.data.password),
    displayName: body.data.displayName ?? null,
    isDemo: false,
    createdAt: new Date().toISOString(),
    disabledAt: null,
  };
  try {
    await users.create(record);
  } catch (err) {
    if (!isAppError(err) || err.code !== 'email_taken') throw err;
    print(io.stderr, `An account with the email ${email} already exists.`);
    return EXIT.conflict;
  }
  if (parsed.values.json === true) print(io.stdout, JSON.stringify(publicView(record, _config)));
  else print(io.stdout, `Created user ${record.email} (id ${record.id}).`);
  return EXIT.ok;
}

async function list(args: readonly string[], io: CliIo, config: Config, users: SqlUserStore): Promise<number> {
  const parsed = parseCommand(args, { json: { type: 'boolean' }, demo: { type: 'boolean' } });
  if (parsed === undefined) return EXIT.ok;
  const all = (await users.list({ includeDemo: parsed.values.demo === true })).map((u) => publicView(u, config));
  if (parsed.values.json === true) return (print(io.stdout, JSON.stringify(all, null, 2)), EXIT.ok);
  if (all.length === 0) return (print(io.stdout, 'No users.'), EXIT.ok);
  const rows = all.map((u) => [
    u.email,
    u.displayName ?? '',
    [u.isAdmin ? 'admin' : '', u.isDemo ? 'demo' : '', u.disabledAt === null ? '' : 'disabled']
      .filter(Boolean)
      .join(','),
    u.createdAt,
    u.id,
  ]);
  print(io.stdout, table([['EMAIL', 'NAME', 'FLAGS', 'CREATED', 'ID'], ...rows]));
  return EXIT.ok;
}

async function disable(args: readonly string[], io: CliIo, config: Config, users: SqlUserStore): Promise<number> {
  const found = await byEmail(args, io, users);
  if (typeof found === 'number') return found;
  const result = await users.disable(found.id, new Date().toISOString());
  if (result === undefined) return notFound(io, found.email);
  const sessions = result.revokedSessions.length;
  print(io.stdout, `Disabled ${found.email}: ${sessions} session${sessions === 1 ? '' : 's'} revoked.`);
  if (sessions === 0) return EXIT.ok;
  if (config.redis === undefined) {
    print(
      io.stdout,
      `Without REDIS_URL a running server cannot be told: its open WebSockets of this user close when their access token expires (within ${config.jwt.accessTtlSeconds} s); every other request is refused now.`,
    );
    return EXIT.ok;
  }
  try {
    await announceRevocations(config.redis, result.revokedSessions);
    print(io.stdout, 'Running servers were told to close its WebSockets.');
  } catch (err) {
    print(
      io.stderr,
      `The account is disabled, but Redis could not be told (${messageOf(err)}): open WebSockets close when their access token expires (within ${config.jwt.accessTtlSeconds} s).`,
    );
  }
  return EXIT.ok;
}

async function enable(args: readonly string[], io: CliIo, _config: Config, users: SqlUserStore): Promise<number> {
  const found = await byEmail(args, io, users);
  if (typeof found === 'number') return found;
  if (!(await users.enable(found.id))) return notFound(io, found.email);
  print(io.stdout, `Enabled ${found.email}.`);
  return EXIT.ok;
}

async function byEmail(args: readonly string[], io: CliIo, users: SqlUserStore): Promise<UserRecord | number> {
  const parsed = parseCommand(args, { email: { type: 'string' } });
  if (parsed === undefined) return EXIT.ok;
  const email = required(parsed.values.email, 'email');
  return (await users.findByEmail(email)) ?? notFound(io, email);
}

function notFound(io: CliIo, email: string): number {
  print(io.stderr, `No user with the email ${email}.`);
  return EXIT.conflict;
}

/** The same channel the servers' RevocationBus listens to (storage/redis): each closes that session's sockets. */
async function announceRevocations(redis: NonNullable<Config['redis']>, sessionIds: readonly string[]): Promise<void> {
  const connection = await RedisConnection.connect(redis);
  try {
    const revocations = await RedisBroadcast.open(connection, 'revocations');
    for (const id of sessionIds) await revocations.publish(id);
  } finally {
    await connection.close();
  }
}

function publicView(u: UserRecord, config: Config) {
  return {
    id: u.id,
    email: u.email,
    displayName: u.displayName,
    isAdmin: config.adminEmails.includes(normalizeEmail(u.email)),
    isDemo: u.isDemo,
    createdAt: u.createdAt,
    disabledAt: u.disabledAt,
  };
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
