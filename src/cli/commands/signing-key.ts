import { adoptSigningKey } from '../../app/index.js';
import { parseCommand, UsageError } from '../args.js';
import { configOrReport, describeStorage } from '../config.js';
import { EXIT, EXIT_CODES_HELP } from '../exit-codes.js';
import { messageOf, print, type CliIo } from '../io.js';

export const SIGNING_KEY_HELP = `Usage: agentgate signing-key adopt
  Every instance sharing a database must sign access tokens with the same key: the database records the key's
  fingerprint (never the key), and an instance started with another key refuses to start. To change the key on
  purpose: stop every instance, set the new JWT_SECRET_KEY, run this once, then start the instances again.
  Access tokens signed with the old key are refused from then on (clients refresh them: refresh tokens live on).

${EXIT_CODES_HELP}
  signing-key: 0 adopted, 1 invalid configuration or database unreachable, 2 usage error.`;

export async function signingKey(args: readonly string[], io: CliIo): Promise<number> {
  const [action, ...rest] = args;
  if (action === '--help' || action === '-h') return (print(io.stdout, SIGNING_KEY_HELP), EXIT.ok);
  if (action !== 'adopt')
    throw new UsageError(action === undefined ? 'Say what to do: adopt.' : `Unknown action "${action}".`);
  if (parseCommand(rest, {}) === undefined) return (print(io.stdout, SIGNING_KEY_HELP), EXIT.ok);
  const config = configOrReport(io);
  if (config === undefined) return EXIT.failure;
  let result;
  try {
    result = await adoptSigningKey(config);
  } catch (err) {
    print(io.stderr, `agentgate signing-key adopt failed (${describeStorage(config)}): ${messageOf(err)}`);
    return EXIT.failure;
  }
  print(
    io.stdout,
    result.previous === undefined
      ? `The configured signing key is the recorded one (${describeStorage(config)}).`
      : `Adopted the configured signing key (${describeStorage(config)}): instances must now all use it.`,
  );
  return EXIT.ok;
}
