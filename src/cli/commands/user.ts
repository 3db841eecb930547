import { openUserAdmin } from '../../app/index.js';
import type { UserAdmin, UserView } from '../../auth/index.js';
import type { Config } from '../../config/index.js';
import { isAppError } from '../../errors/index.js';
import { parseCommand, required, UsageError } from '../args.js';
import { configOrReport, describeStorage } from '../config.js';
import { EXIT, EXIT_CODES_HELP } from '../exit-codes.js';
import { messageOf, print, promptHidden, readFirstLine, type CliIo } from '../io.js';

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

type Subcommand = (args: readonly string[], io: CliIo, config: Config, admin: UserAdmin) => Promise<number>;

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
  let opened;
  try {
    opened = await openUserAdmin(config);
  } catch (err) {
    print(io.stderr, `Cannot open the database (${describeStorage(config)}): ${messageOf(err)}`);
    return EXIT.failure;
  }
  try {
    return await subcommand(rest, io, config, opened.admin);
  } finally {
    await opened.close();
  }
}

async function create(args: readonly string[], io: CliIo, _config: Config, admin: UserAdmin): Promise<number> {
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
  let created: UserView;
  try {
    created = await admin.create({ email, password, displayName: parsed.values['display-name'] });
  } catch (err) {
    if (isAppError(err) && err.code === 'invalid_request') throw new UsageError(err.message);
    if (!isAppError(err) || err.code !== 'email_taken') throw err;
    print(io.stderr, `An account with the email ${email} already exists.`);
    return EXIT.conflict;
  }
  if (parsed.values.json === true) print(io.stdout, JSON.stringify(created));
  else print(io.stdout, `Created user ${created.email} (id ${created.id}).`);
  return EXIT.ok;
}

async function list(args: readonly string[], io: CliIo, _config: Config, admin: UserAdmin): Promise<number> {
  const parsed = parseCommand(args, { json: { type: 'boolean' }, demo: { type: 'boolean' } });
  if (parsed === undefined) return EXIT.ok;
  const all = await admin.list({ includeDemo: parsed.values.demo === true });
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

async function disable(args: readonly string[], io: CliIo, config: Config, admin: UserAdmin): Promise<number> {
  const email = emailOf(args);
  if (email === undefined) return EXIT.ok;
  const result = await admin.disable(email);
  if (result === undefined) return notFound(io, email);
  const sessions = result.revokedSessions;
  print(io.stdout, `Disabled ${result.user.email}: ${sessions} session${sessions === 1 ? '' : 's'} revoked.`);
  const ttl = config.jwt.accessTtlSeconds;
  switch (result.announcement.kind) {
    case 'not_needed':
      break;
    case 'no_channel':
      print(
        io.stdout,
        `Without REDIS_URL a running server cannot be told: its open WebSockets of this user close when their access token expires (within ${ttl} s); every other request is refused now.`,
      );
      break;
    case 'told':
      print(io.stdout, 'Running servers were told to close its WebSockets.');
      break;
    case 'failed':
      print(
        io.stderr,
        `The account is disabled, but Redis could not be told (${messageOf(result.announcement.error)}): open WebSockets close when their access token expires (within ${ttl} s).`,
      );
      break;
  }
  return EXIT.ok;
}

async function enable(args: readonly string[], io: CliIo, _config: Config, admin: UserAdmin): Promise<number> {
  const email = emailOf(args);
  if (email === undefined) return EXIT.ok;
  const enabled = await admin.enable(email);
  if (enabled === undefined) return notFound(io, email);
  print(io.stdout, `Enabled ${enabled.email}.`);
  return EXIT.ok;
}

/** The --email option; undefined when --help was answered. */
function emailOf(args: readonly string[]): string | undefined {
  const parsed = parseCommand(args, { email: { type: 'string' } });
  return parsed === undefined ? undefined : required(parsed.values.email, 'email');
}

function notFound(io: CliIo, email: string): number {
  print(io.stderr, `No user with the email ${email}.`);
  return EXIT.conflict;
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
