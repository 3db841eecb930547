import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli, type CliIo } from '../../src/cli/index.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in this process with piped streams: what a script sees, without a process start per case. */
export async function cli(
  argv: readonly string[],
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<CliRun> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  stdin.end(options.stdin ?? '');
  const io: CliIo = { stdin, stdout, stderr, env: { LOG_LEVEL: 'silent', ...options.env }, onSignal: () => () => {} };
  const code = await runCli(argv, io);
  return { code, stdout: out, stderr: err };
}

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** The real entry point in its own process (`node --import tsx src/main.ts`), stdin fed by the test. */
export function spawnCli(argv: readonly string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...argv], {
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  const exited = new Promise<CliRun>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal === null ? -1 : 128), stdout, stderr });
    }),
  );
  return { child, exited, output: () => stdout };
}

/** Spawns `command` under a pseudo-terminal (util-linux `script`), so it sees a TTY on stdin and stdout. */
export function spawnInTerminal(
  command: readonly string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
) {
  const quoted = command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qefc', `stty cols 120 rows 40; exec ${quoted}`, '/dev/null'], {
    env: { ...process.env, TERM: 'xterm-256color', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  const exited = new Promise<number>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    }),
  );
  return { child, exited, output: () => output };
}

export const MAIN_ARGS = [process.execPath, '--import', 'tsx', MAIN] as const;
