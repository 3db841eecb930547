import { parseCommand } from '../args.js';
import { configOrReport, describeStorage } from '../config.js';
import { EXIT, EXIT_CODES_HELP } from '../exit-codes.js';
import { print, type CliIo } from '../io.js';

export const CHECK_CONFIG_HELP = `Usage: agentgate check-config        (also: agentgate --check-config)
  Validates the configuration from the environment exactly as \`serve\` does at start-up (strict in
  NODE_ENV=production), prints the result, and exits. Nothing is opened or written.

${EXIT_CODES_HELP}
  check-config: 0 valid, 1 invalid (every problem is listed).`;

export async function checkConfig(args: readonly string[], io: CliIo): Promise<number> {
  if (parseCommand(args, {}) === undefined) return (print(io.stdout, CHECK_CONFIG_HELP), EXIT.ok);
  const config = configOrReport(io, 'agentgate: the configuration is invalid.');
  if (config === undefined) return EXIT.failure;
  const signing = config.jwt.secretKey === undefined ? 'EdDSA key in DATA_DIR' : 'HS256 JWT_SECRET_KEY';
  const agent =
    config.llm.provider === 'offline'
      ? 'offline (built-in)'
      : `${config.llm.provider} ${config.llm.model ?? ''}`.trim();
  print(
    io.stdout,
    `Configuration is valid (NODE_ENV=${config.env}, signing=${signing}, ${describeStorage(config)}, agent=${agent}).`,
  );
  return EXIT.ok;
}
