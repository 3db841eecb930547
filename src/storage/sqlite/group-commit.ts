import type { Database as NativeDatabase, Statement } from 'better-sqlite3';
import {
  type CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';
import { withStatementCache, type StatementCache } from './statement-cache.js';

/**
 * A Kysely dialect for better-sqlite3 that group-commits: every write issued in one turn of the event loop, by any
 * caller, runs inside one SQLite transaction that commits on the next turn, so a burst of concurrent requests pays
 * for one commit (the dominant cost of a small write) instead of one each.
 *
 * What each caller still gets:
 * - Its promise settles only after the commit that holds its statement: anything acknowledged is durable.
 * - A statement that fails alone (a constraint) fails alone: SQLite undoes just that statement.
 * - An explicit transaction (`db.transaction()`) is a savepoint inside the group: all or nothing, isolated from
 *   other callers by the connection lock while it is open.
 * - If the commit itself fails, every statement of the group fails, and none of them is stored.
 *
 * The third of three batching layers, SQLite only: it only defers to the end of the turn (docs/ARCHITECTURE.md,
 * "Three batching layers").
 */
export class GroupCommitSqliteDialect implements Dialect {
  private driver: GroupCommitDriver | undefined;

  constructor(
    private readonly native: NativeDatabase,
    private readonly hooks: GroupCommitHooks = {},
  ) {}

  /** Commits made so far (tests and benchmarks compare it with the statements they issued). */
  get commits(): number {
    return this.driver?.commits ?? 0;
  }

  createDriver(): Driver {
    this.driver = new GroupCommitDriver(this.native, this.hooks);
    return this.driver;
  }
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}

export interface GroupCommitHooks {
  /** After each commit, with the number made so far. */
  readonly afterCommit?: (commits: number) => void;
  /** When the database is closed, before the connection is. */
  readonly beforeClose?: () => Promise<void>;
}

/** The savepoint that stands for an explicit transaction (they never nest: the connection lock serializes them). */
const TRANSACTION = 'agentgate_transaction';

/** A statement of a transaction whose group failed: SQLite already rolled everything back. */
class GroupLostError extends Error {
  override readonly name = 'GroupLostError';
}

/** The statements waiting for one commit. */
class Group {
  readonly committed: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;
  failed = false;

  constructor() {
    this.committed = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Settled even when no caller is left to await it (all of them failed alone).
    this.committed.catch(() => {});
  }
}

/** One acquisition of the connection; Kysely hands it back to the driver on every call. */
class Handle implements DatabaseConnection {
  held = true;
  inTransaction = false;
  /** The group the open transaction belongs to. */
  group: Group | undefined;

  constructor(private readonly driver: GroupCommitDriver) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.driver.execute<R>(this, query);
  }

  // eslint-disable-next-line require-yield -- Kysely requires the method; nothing here streams.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on SQLite: use execute()');
  }
}

class GroupCommitDriver implements Driver {
  private readonly db: StatementCache;
  /** Held by a caller between statements of an explicit transaction, so no other statement lands inside it. */
  private locked = false;
  private readonly waiting: (() => void)[] = [];
  private group: Group | undefined;
  private commitDue = false;
  commits = 0;

  constructor(
    private readonly native: NativeDatabase,
    private readonly hooks: GroupCommitHooks,
  ) {
    this.db = withStatementCache(native);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.lock();
    return new Handle(this);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    this.release(connection as Handle);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const handle = connection as Handle;
    handle.group = this.openGroup();
    this.run(`savepoint ${TRANSACTION}`);
    handle.inTransaction = true;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const handle = connection as Handle;
    const group = this.groupOf(handle);
    this.run(`release ${TRANSACTION}`);
    handle.inTransaction = false;
    // Let others in before the commit: waiting for it while holding the lock would serialize every transaction.
    this.release(handle);
    await group.committed;
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const handle = connection as Handle;
    handle.inTransaction = false;
    // A group that failed was rolled back whole by SQLite: the savepoint is gone with it.
    if (handle.group === this.group && this.native.inTransaction) {
      this.run(`rollback to ${TRANSACTION}`);
      this.run(`release ${TRANSACTION}`);
    }
  }

  async destroy(): Promise<void> {
    if (this.group !== undefined) this.commit();
    await this.hooks.beforeClose?.();
    this.db.close();
  }

  async execute<R>(handle: Handle, query: CompiledQuery): Promise<QueryResult<R>> {
    const statement = this.db.prepare(query.sql);
    if (handle.inTransaction) {
      this.groupOf(handle);
      return this.statement<R>(statement, query);
    }
    if (!handle.held) {
      await this.lock();
      handle.held = true;
    }
    // Reads outside any pending write run on their own; once writes are pending, everything waits for their commit
    // (a read must not report what a failed commit then undoes).
    const group = statement.readonly ? this.group : this.openGroup();
    let result: QueryResult<R>;
    try {
      result = this.statement<R>(statement, query);
    } finally {
      this.release(handle);
    }
    if (group !== undefined) await group.committed;
    return result;
  }

  private statement<R>(statement: Statement, query: CompiledQuery): QueryResult<R> {
    const parameters = query.parameters as unknown[];
    try {
      if (statement.reader) return { rows: statement.all(parameters) as R[] };
      const { changes, lastInsertRowid } = statement.run(parameters);
      return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    } catch (err) {
      // Most errors undo one statement; some (I/O, full disk) make SQLite roll the whole transaction back.
      if (this.group !== undefined && !this.native.inTransaction) this.fail(this.group, err);
      throw err;
    }
  }

  private groupOf(handle: Handle): Group {
    const group = handle.group;
    if (group === undefined || group !== this.group || group.failed)
      throw new GroupLostError('the transaction was rolled back because its commit group failed');
    return group;
  }

  /** The group statements join now; opens one (BEGIN, commit scheduled) if none is pending. */
  private openGroup(): Group {
    if (this.group !== undefined) return this.group;
    // IMMEDIATE takes the write lock now (waiting out another process, such as the CLI, under busy_timeout): a
    // deferred group that read first could not write later if someone else had committed meanwhile.
    this.run('begin immediate');
    const group = new Group();
    this.group = group;
    setImmediate(() => {
      if (this.locked) this.commitDue = true;
      else this.commit();
    });
    return group;
  }

  private commit(): void {
    const group = this.group;
    if (group === undefined) return;
    this.group = undefined;
    this.commitDue = false;
    try {
      this.run('commit');
      this.commits += 1;
      this.hooks.afterCommit?.(this.commits);
      group.resolve();
    } catch (err) {
      if (this.native.inTransaction) this.run('rollback');
      group.failed = true;
      group.reject(err);
    }
  }

  private fail(group: Group, err: unknown): void {
    if (this.group === group) this.group = undefined;
    group.failed = true;
    group.reject(err);
  }

  private run(sql: string): void {
    this.db.prepare(sql).run();
  }

  private async lock(): Promise<void> {
    if (!this.locked) {
      this.locked = true;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hands the lock to the next waiter; a commit that came due while it was held goes first. */
  private release(handle: Handle): void {
    if (!handle.held) return;
    handle.held = false;
    if (this.commitDue) this.commit();
    const next = this.waiting.shift();
    if (next === undefined) this.locked = false;
    else next();
  }
}
