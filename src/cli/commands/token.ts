import { parseCommand } from '../args.js';
import { EXIT, EXIT_CODES_HELP } from '../exit-codes.js';
import { print, type CliIo } from '../io.js';
import { LOGIN_HELP, LOGIN_OPTIONS, loggedInClient, reportClientError } from '../login.js';

export const TOKEN_HELP = `Usage: agentgate token [--url URL] (--email EMAIL | --demo)
  Logs in and prints only an access token on stdout, for scripts:
    curl -H "Authorization: Bearer $(AGENTGATE_PASSWORD=... agentgate token --email me@example.com)" .../threads
  The password comes from AGENTGATE_PASSWORD, else from a terminal prompt, else from the first line of stdin.
  The token expires after ACCESS_TOKEN_TTL_SECONDS (15 min by default); the login is not logged out.
${LOGIN_HELP}

${EXIT_CODES_HELP}
  token: 0 printed, 1 server unreachable, 3 wrong email or password.`;

export async function token(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(args, LOGIN_OPTIONS);
  if (parsed === undefined) return (print(io.stdout, TOKEN_HELP), EXIT.ok);
  try {
    const client = await loggedInClient(parsed.values, io, { passwordFromStdin: true });
    print(io.stdout, await client.accessToken());
    return EXIT.ok;
  } catch (err) {
    return reportClientError(io, err);
  }
}
