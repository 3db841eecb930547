/** Exit codes of every command (docs/CLI.md). */
export const EXIT = {
  ok: 0,
  /** The command failed: the server or database could not be reached, a run ended in error, invalid configuration. */
  failure: 1,
  /** Wrong arguments: unknown command or option, a missing value. */
  usage: 2,
  /** Authentication refused: wrong email or password, the session ended. */
  auth: 3,
  /** The named thing does not exist, or already exists (user create with a taken email). */
  conflict: 4,
  /** `serve` could not start (port in use, database unreachable). */
  startFailed: 70,
  /** Interrupted with Ctrl-C. */
  interrupted: 130,
} as const;

export const EXIT_CODES_HELP = `Exit codes: 0 ok, 1 failure, 2 usage error, 3 authentication refused, 4 not found or already exists,
  70 the server could not start, 130 interrupted (Ctrl-C).`;
