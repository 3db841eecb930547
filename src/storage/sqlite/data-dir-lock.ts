import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';

/** Beside the lock: which process holds it, so a refused second process can name it. */
const OWNER_FILE = 'agentgate.pid';
/** A lock not refreshed for this long belongs to a process that died (proper-lockfile refreshes it every half). */
const STALE_MS = 2_000;

/**
 * Takes DATA_DIR for this server process alone. Two servers on one SQLite folder would each end the other's runs as
 * orphans; the second is refused, with a message naming the folder and the process that holds it. The lock of a
 * process that died (SIGKILL, power loss) goes stale within STALE_MS and is then taken over, so a restart right after
 * a crash waits at most about that long. Administration commands (`agentgate user`, `migrate`) do not take it:
 * SQLite serializes their writes with the server's. Resolves to the release function.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dataDir, {
      stale: STALE_MS,
      update: STALE_MS / 2,
      retries: { retries: 5, factor: 1, minTimeout: STALE_MS / 2, maxTimeout: STALE_MS / 2 },
      realpath: false,
      onCompromised: (err) => {
        // Someone removed or took over our lock: serving on would let two processes share the folder.
        throw new Error(`The lock on DATA_DIR ${dataDir} was lost: ${err.message}`, { cause: err });
      },
    });
  } catch (err) {
    if ((err as { code?: string }).code !== 'ELOCKED') throw err;
    const owner = ownerOf(dataDir);
    throw new Error(
      `DATA_DIR ${dataDir} is in use by another agentgate process${owner === undefined ? '' : ` (pid ${owner})`}: ` +
        'stop it first, or give this process its own DATA_DIR (several servers share data through DATABASE_URL and REDIS_URL).',
      { cause: err },
    );
  }
  writeFileSync(join(dataDir, OWNER_FILE), `${process.pid}\n`);
  return async () => {
    rmSync(join(dataDir, OWNER_FILE), { force: true });
    await release();
  };
}

function ownerOf(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, OWNER_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
