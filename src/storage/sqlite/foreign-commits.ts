import type { Database as NativeDatabase, Statement } from 'better-sqlite3';
import type { BusLink } from '../../auth/index.js';

/** How stale the answer may be: a commit by another process (the CLI) is told this much later at most. */
const LOOK_EVERY_MS = 2;

/**
 * Commits to the database file by another process (the CLI disabling a user while the server runs), which announces
 * nothing to this one. SQLite tells: `PRAGMA data_version` changes once another connection has committed. As a
 * BusLink it is always up, and reading `up` first tells the listeners when such a commit happened since the last
 * look, so whatever they remember of the database is forgotten before it is used.
 */
export class ForeignCommits implements BusLink {
  private readonly listeners = new Set<(up: boolean) => void>();
  private readonly dataVersion: Statement<[], number>;
  private seen: number;
  private lookedAt = -Infinity;

  constructor(native: NativeDatabase) {
    this.dataVersion = native.prepare<[], number>('PRAGMA data_version').pluck();
    this.seen = this.read();
  }

  get up(): boolean {
    // At most every LOOK_EVERY_MS: every session check asks (twice per handshake), and in the server the pragma
    // cost ~17 µs a read under the profiler (`npm run bench -- profile --handshakes bearer`), 1 µs alone.
    const now = performance.now();
    if (now - this.lookedAt < LOOK_EVERY_MS) return true;
    this.lookedAt = now;
    const version = this.read();
    if (version !== this.seen) {
      this.seen = version;
      for (const listener of [...this.listeners]) listener(true);
    }
    return true;
  }

  onChange(listener: (up: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private read(): number {
    return this.dataVersion.get() as number;
  }
}
