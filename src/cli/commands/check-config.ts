import { existsSync } from 'node:fs';
import { preflight } from '../../app/preflight.js';
import { parseCommand } from '../args.js';
import { configOrReport, describeStorage } from '../config.js';
import { EXIT, EXIT_CODES_HELP } from '../exit-codes.js';
import { messageOf, print, type CliIo } from '../io.js';

export const CHECK_CONFIG_HELP = `Usage: agentgate check-config        (also: agentgate --check-config)
  Validates the configuration from the environment exactly as \`serve\` does at start-up (strict in
  NODE_ENV=production), prints the result, and exits. Nothing is created or written. Like \`serve\`, it checks
  that HOST can be listened on and DATA_DIR written (a PORT in use is a warning). It also reads (only) the
  database to compare the signing key's fingerprint with the one the instances sharing it sign with: a different
  key is invalid (\`serve\` would refuse to start); a database it cannot reach is a warning.

${EXIT_CODES_HELP}
  check-config: 0 valid, 1 invalid (every problem is listed).`;

export async function checkConfig(args: readonly string[], io: CliIo): Promise<number> {
  if (parseCommand(args, {}) === undefined) return (print(io.stdout, CHECK_CONFIG_HELP), EXIT.ok);
  const config = configOrReport(io, 'agentgate: the configuration is invalid.');
  if (config === undefined) return EXIT.failure;
  const { problems, warnings } = await preflight(config, { warnings: true });
  for (const warning of warnings) print(io.stderr, `Warning: ${warning}`);
  if (problems.length > 0) {
    print(io.stderr, `agentgate: the configuration is invalid.\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    return EXIT.failure;
  }
  const signing = config.jwt.secretKey === undefined ? 'EdDSA key in DATA_DIR' : 'HS256 JWT_SECRET_KEY';
  const agent =
    config.llm.provider === 'offline'
      ? 'offline (built-in)'
      : `${config.llm.provider} ${config.llm.model ?? ''}`.trim();
  let keyCheck: 'matches' | 'differs' | 'unknown' = 'unknown';
  try {
    // Loaded only when a key may be recorded: the server's modules (database drivers...) take most of a second.
    if (config.database !== undefined || existsSync(config.dataDir))
      keyCheck = await (await import('../../app/index.js')).signingKeyMatch(config);
  } catch (err) {
    print(io.stderr, `Warning: the signing key could not be compared with the database's (${messageOf(err)}).`);
    keyCheck = 'unknown';
  }
  if (keyCheck === 'differs') {
    print(
      io.stderr,
      'agentgate: the configuration is invalid.\n  - JWT_SECRET_KEY is not the signing key recorded in the database (the one the instances sharing it ' +
        'use): start every instance with the same key, or rotate it on purpose with `agentgate signing-key adopt`.',
    );
    return EXIT.failure;
  }
  print(
    io.stdout,
    `Configuration is valid (NODE_ENV=${config.env}, signing=${signing}${keyCheck === 'matches' ? ' (the recorded key)' : ''}, ${describeStorage(config)}, agent=${agent}).`,
  );
  return EXIT.ok;
}
