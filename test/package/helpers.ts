import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The environment of every process these tests start: no NODE_OPTIONS (vitest or a caller could preload tsx
 * through it, and the point is plain `node`), and none of the npm_* variables of an enclosing `npm test`, which
 * would steer the npm started here (its prefix, its lifecycle).
 */
export function plainEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_OPTIONS' || (key.startsWith('npm_') && key !== 'npm_config_cache')) continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

const exec = promisify(execFile);

/** Runs a command to its end; its stdout, or an error that carries its stderr. */
export async function sh(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<string> {
  try {
    const { stdout } = await exec(command, [...args], {
      cwd: options.cwd,
      env: plainEnv(options.env),
      timeout: options.timeoutMs ?? 90_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const { stderr, stdout } = err as { stderr?: string; stdout?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${options.cwd}:\n${stderr ?? ''}\n${stdout ?? ''}`, {
      cause: err,
    });
  }
}

/** `npm pack` of `packageDir` into `destination`; the tarball's path. */
export async function pack(packageDir: string, destination: string, options: { ignoreScripts?: boolean } = {}) {
  const args = ['pack', '--json', '--pack-destination', destination];
  if (options.ignoreScripts === true) args.push('--ignore-scripts');
  const out = await sh('npm', args, { cwd: packageDir });
  const [result] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string }>;
  if (result === undefined) throw new Error(`npm pack printed no result: ${out}`);
  return join(destination, result.filename);
}

/**
 * An empty project in `dir` (ESM, no dependencies), then `npm install` of the tarball into it. Packages come from
 * npm's cache when it has them (the repository's own install put them there), from the registry otherwise.
 */
export async function installInEmptyProject(dir: string, tarball: string, options: { ignoreScripts?: boolean } = {}) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  const args = ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
  if (options.ignoreScripts === true) args.push('--ignore-scripts');
  await sh('npm', args, { cwd: dir, timeoutMs: 120_000 });
}

/** Runs `file` (in `dir`) with plain `node`: no tsx, no loader. Its stdout. */
export function runNode(dir: string, file: string, args: readonly string[] = []): Promise<string> {
  return sh(process.execPath, [file, ...args], { cwd: dir, timeoutMs: 30_000 });
}

/** The repository's TypeScript compiler, run on `project` (a tsconfig). */
export function tsc(project: string, extra: readonly string[] = []): Promise<string> {
  return sh(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', project, ...extra], {
    cwd: REPO,
  });
}
