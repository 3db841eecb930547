/**
 * The browser tests serve the BUILT page (dist/web), as `npm start` does. When the build is missing or older than
 * its sources (web/, the SDK, the protocol types), it is rebuilt once, under a lock: test files run in parallel.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const WEB_DIST = join(ROOT, 'dist/web');
const SOURCES = ['web', 'src/client', 'src/protocol'].map((dir) => join(ROOT, dir));
const LOCK = join(ROOT, 'dist/.web-build.lock');
const STALE_LOCK_MS = 120_000;

export async function ensureWebBuild(): Promise<void> {
  if (isFresh()) return;
  await withLock(async () => {
    if (isFresh()) return;
    // The same command as `npm run build:web`.
    await run(process.execPath, [
      join(ROOT, 'node_modules/vite/bin/vite.js'),
      'build',
      '--config',
      join(ROOT, 'web/vite.config.ts'),
      '--logLevel',
      'warn',
    ]);
  });
}

function isFresh(): boolean {
  const index = join(WEB_DIST, 'index.html');
  if (!existsSync(index)) return false;
  const builtAt = statSync(index).mtimeMs;
  return SOURCES.every((dir) => newestIn(dir) <= builtAt);
}

function newestIn(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestIn(path) : statSync(path).mtimeMs);
  }
  return newest;
}

async function withLock(work: () => Promise<void>): Promise<void> {
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const deadline = Date.now() + STALE_LOCK_MS;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // Another test file is building; a lock older than any build is left over from a killed run.
      if (existsSync(LOCK) && Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS)
        rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error('timed out waiting for another web build');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    await work();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: ROOT, timeout: 120_000 }, (err, _stdout, stderr) =>
      err === null ? resolve() : reject(new Error(`web build failed: ${stderr}`, { cause: err })),
    );
  });
}
