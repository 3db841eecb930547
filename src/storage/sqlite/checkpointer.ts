import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the worker copies the write-ahead log into the database file. */
const CHECKPOINT_EVERY_MS = 250;

// Plain JavaScript (a worker given code, not a file, runs the same from the sources and from dist/).
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message) });
  }
}, workerData.everyMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Stops checkpointing (the last connection to close checkpoints what is left). */
  stop(): Promise<void>;
}

/**
 * Checkpoints the database's write-ahead log from a worker thread, on a connection of its own: a checkpoint copies
 * pages into the database file and syncs it, and done by the serving connection (SQLite's automatic checkpoint,
 * inside a commit) it held the event loop (the A/B in docs/BENCHMARKS.md, issue 24). The serving connection
 * is set to `wal_autocheckpoint = 0`. Durability is unchanged: a commit is durable once it is in the log.
 * If the worker fails, the serving connection checkpoints automatically again (`onFailure`).
 */
export function startCheckpointer(file: string, onFailure: (reason: string) => void): Checkpointer {
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      file,
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      everyMs: CHECKPOINT_EVERY_MS,
    },
  });
  let failed = false;
  const fail = (reason: string): void => {
    if (failed) return;
    failed = true;
    onFailure(reason);
  };
  worker.on('message', (message: { error?: string }) => fail(message.error ?? 'unknown'));
  worker.on('error', (err) => fail(err.message));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  // The serving connection, not the worker, keeps the process alive (a CLI command exits when it is done, and so
  // does a server that failed to start). After the listeners: attaching one refs the worker again.
  worker.unref();
  return {
    async stop() {
      // Held while it closes: a process with nothing else left to do must not exit halfway through the close.
      worker.ref();
      worker.postMessage('stop');
      const giveUp = setTimeout(() => void worker.terminate(), 2_000);
      await exited;
      clearTimeout(giveUp);
    },
  };
}
