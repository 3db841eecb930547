import { preflight, startApp } from '../../app/index.js';
import { parseCommand } from '../args.js';
import type { Config } from '../../config/index.js';
import { configOrReport, describeStorage } from '../config.js';
import { EXIT, EXIT_CODES_HELP } from '../exit-codes.js';
import { print, type CliIo } from '../io.js';

export const SERVE_HELP = `Usage: agentgate serve
  Serves HTTP and WebSocket on HOST:PORT until SIGTERM or SIGINT (what \`npm start\` runs; also what
  \`agentgate\` with no command does). Settings come from the environment: see docs/CONFIG.md.
  On the first signal it shuts down gracefully (sockets close 1001, runs get SHUTDOWN_GRACE_MS); a second
  signal exits at once with 1.

${EXIT_CODES_HELP}
  serve: 0 after a clean shutdown, 1 invalid configuration or failed shutdown, 70 failed to start.`;

/** Starts the server; resolves with -1 (keep running) once listening, or an exit code when it cannot start. */
export async function serve(args: readonly string[], io: CliIo): Promise<number> {
  if (parseCommand(args, {}) === undefined) return (print(io.stdout, SERVE_HELP), EXIT.ok);
  const config = configOrReport(io, 'agentgate: refusing to start.');
  if (config === undefined) return EXIT.failure;
  const { problems } = await preflight(config);
  if (problems.length > 0) {
    print(io.stderr, `agentgate: refusing to start.\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    return EXIT.failure;
  }
  let app;
  try {
    app = await startApp(config);
  } catch (err) {
    print(io.stderr, startFailure(config, err));
    return EXIT.startFailed;
  }
  const running = app;
  let signals = 0;
  io.onSignal('SIGINT', () => shutdown('SIGINT'));
  io.onSignal('SIGTERM', () => shutdown('SIGTERM'));
  function shutdown(signal: string): void {
    if (++signals > 1) process.exit(EXIT.failure);
    running.logger.info({ signal }, 'shutting down');
    running.stop().then(
      () => process.exit(EXIT.ok),
      (err: unknown) => {
        running.logger.error({ err }, 'shutdown failed');
        process.exit(EXIT.failure);
      },
    );
  }
  return -1;
}

/** The line `serve` prints when it cannot start; for a port it cannot listen on, what to set instead. */
function startFailure(config: Config, err: unknown): string {
  const { code, syscall } = err instanceof Error ? (err as NodeJS.ErrnoException) : {};
  const port = `port ${config.port} on ${config.host}`;
  if (syscall === 'listen' && code === 'EADDRINUSE')
    return `agentgate failed to start: ${port} is in use. Set PORT=<another port> (PORT=0 picks a free one), or stop the process that holds it.`;
  if (syscall === 'listen' && code === 'EACCES')
    return `agentgate failed to start: ${port} needs privileges this user does not have. Set PORT=<a port from 1024 up>.`;
  return `agentgate failed to start (${describeStorage(config)}): ${err instanceof Error ? err.message : String(err)}`;
}
