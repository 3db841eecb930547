import type { Database as NativeDatabase, Statement } from 'better-sqlite3';
import type { BusLink } from '../../auth/index.js';

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

  constructor(native: NativeDatabase) {
    this.dataVersion = native.prepare<[], number>('PRAGMA data_version').pluck();
    this.seen = this.read();
  }

  get up(): boolean {
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
