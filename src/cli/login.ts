import { AgentgateClient, ClientError, type ClientOptions } from '../client/node.js';
import { UsageError } from './args.js';
import { EXIT } from './exit-codes.js';
import { print, promptHidden, readFirstLine, type CliIo } from './io.js';

const DEFAULT_URL = 'http://127.0.0.1:8080';

export const LOGIN_OPTIONS = {
  url: { type: 'string' },
  email: { type: 'string' },
  demo: { type: 'boolean' },
} as const;

export const LOGIN_HELP = `  --url URL        the server (default: AGENTGATE_URL, else ${DEFAULT_URL})
  --email EMAIL    log in as this user (default: AGENTGATE_EMAIL); the password comes from AGENTGATE_PASSWORD,
                   else it is asked for without echo on a terminal. Never pass it as an argument.
  --demo           a new throwaway demo user instead (the server needs DEMO_MODE=1)`;

export interface LoginValues {
  readonly url?: string | undefined;
  readonly email?: string | undefined;
  readonly demo?: boolean | undefined;
}

/**
 * Logs a Node client in as the options say. `passwordFromStdin` lets a command read the password from its stdin
 * when nothing else gives it (token); chat keeps stdin for messages.
 */
export async function loggedInClient(
  values: LoginValues,
  io: CliIo,
  options: { passwordFromStdin: boolean; client?: Partial<ClientOptions> },
): Promise<AgentgateClient> {
  const email = values.email ?? io.env.AGENTGATE_EMAIL;
  if (values.demo === true && values.email !== undefined) throw new UsageError('Give --email or --demo, not both.');
  if (values.demo !== true && email === undefined)
    throw new UsageError('Give --email EMAIL (or AGENTGATE_EMAIL), or --demo.');
  const client = new AgentgateClient({ baseUrl: values.url ?? io.env.AGENTGATE_URL ?? DEFAULT_URL, ...options.client });
  if (values.demo === true) {
    await client.demo();
    return client;
  }
  await client.login(email ?? '', await passwordFor(io, options.passwordFromStdin));
  return client;
}

async function passwordFor(io: CliIo, fromStdin: boolean): Promise<string> {
  const fromEnv = io.env.AGENTGATE_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (io.stdin.isTTY === true) return promptHidden(io, 'Password: ');
  if (fromStdin) return readFirstLine(io.stdin);
  throw new UsageError('Set AGENTGATE_PASSWORD (stdin carries the messages here), or use --demo.');
}

/** Exit code and one line for a failure of a client command. */
export function reportClientError(io: CliIo, err: unknown): number {
  if (!(err instanceof ClientError)) throw err;
  print(io.stderr, `agentgate: ${err.message} (${err.code})`);
  if (
    [
      'invalid_credentials',
      'invalid_token',
      'invalid_refresh_token',
      'refresh_token_reused',
      'session_revoked',
      'not_authenticated',
    ].includes(err.code)
  )
    return EXIT.auth;
  if (err.code === 'not_found') return EXIT.conflict;
  return EXIT.failure;
}
