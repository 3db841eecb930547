import { AGENTGATE_VERSION } from '../app/version.js';
import { UsageError } from './args.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { InterruptedError, print, type CliIo } from './io.js';

export type { CliIo } from './io.js';

const HELP = `agentgate: an authenticated real-time gateway for AI agents

Usage: agentgate [command] [options]       (agentgate <command> --help for each; agentgate --version)
  serve           serve HTTP and WebSocket (the default with no command; what \`npm start\` runs)
  check-config    validate the configuration and exit (also: agentgate --check-config)
  migrate         bring the database schema up to date and exit
  user            create, list, disable or enable accounts in the configured database
  signing-key     adopt a new access-token signing key (a deliberate key rotation)
  token           log in and print an access token (for scripts)
  chat            talk to the agent from a terminal or a pipe

Server commands read their settings from the environment (docs/CONFIG.md); client commands (token, chat)
take --url, or AGENTGATE_URL. See docs/CLI.md.

${EXIT_CODES_HELP}`;

interface CommandModule {
  readonly run: (args: readonly string[], io: CliIo) => Promise<number>;
  readonly help: string;
}

// Loaded on demand: `chat` and `token` need the SDK only, not the server with its database drivers and agents.
const COMMANDS: Readonly<Record<string, () => Promise<CommandModule>>> = {
  serve: () => import('./commands/serve.js').then((m) => ({ run: m.serve, help: m.SERVE_HELP })),
  'check-config': () =>
    import('./commands/check-config.js').then((m) => ({ run: m.checkConfig, help: m.CHECK_CONFIG_HELP })),
  migrate: () => import('./commands/migrate.js').then((m) => ({ run: m.migrate, help: m.MIGRATE_HELP })),
  user: () => import('./commands/user.js').then((m) => ({ run: m.user, help: m.USER_HELP })),
  'signing-key': () =>
    import('./commands/signing-key.js').then((m) => ({ run: m.signingKey, help: m.SIGNING_KEY_HELP })),
  token: () => import('./commands/token.js').then((m) => ({ run: m.token, help: m.TOKEN_HELP })),
  chat: () => import('./commands/chat.js').then((m) => ({ run: m.chat, help: m.CHAT_HELP })),
};

/**
 * Runs one command. Resolves with its exit code, or -1 when it keeps running (serve). No command serves, and the
 * old flag `--check-config` still works, so `node dist/main.js` and `npm start -- --check-config` behave as before.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [first = 'serve', ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') return (print(io.stdout, HELP), EXIT.ok);
  if (first === '--version' || first === '-v') return (print(io.stdout, AGENTGATE_VERSION), EXIT.ok);
  const name = first === '--check-config' ? 'check-config' : first;
  const load = COMMANDS[name];
  if (load === undefined) return (print(io.stderr, `agentgate: unknown command "${first}".\n\n${HELP}`), EXIT.usage);
  const command = await load();
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError)
      return (print(io.stderr, `agentgate ${name}: ${err.message}\n\n${command.help}`), EXIT.usage);
    if (err instanceof InterruptedError) return EXIT.interrupted;
    print(io.stderr, `agentgate ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failure;
  }
}
