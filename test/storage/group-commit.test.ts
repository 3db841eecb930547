import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCommitSqliteDialect } from '../../src/storage/sqlite/group-commit.js';
import { isUniqueViolation } from '../../src/storage/sql/errors.js';

interface Schema {
  items: { id: number; name: string };
  parents: { id: number };
  children: { id: number; parent_id: number };
}

describe('SQLite group commit', () => {
  let dir: string;
  let native: SqliteDatabase.Database;
  /** A second connection to the same file: it sees only what is committed. */
  let observer: SqliteDatabase.Database;
  let dialect: GroupCommitSqliteDialect;
  let db: Kysely<Schema>;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'agentgate-group-commit-'));
    native = new SqliteDatabase(join(dir, 'db.sqlite'));
    native.pragma('journal_mode = WAL');
    native.pragma('foreign_keys = ON');
    native.exec('create table items (id integer primary key, name text not null unique)');
    native.exec('create table parents (id integer primary key)');
    // Deferred: checked at COMMIT, which is how a test makes a commit fail.
    native.exec(
      'create table children (id integer primary key, parent_id integer not null references parents (id) deferrable initially deferred)',
    );
    observer = new SqliteDatabase(join(dir, 'db.sqlite'), { readonly: true });
    dialect = new GroupCommitSqliteDialect(native);
    db = new Kysely<Schema>({ dialect });
  });

  afterEach(async () => {
    await db.destroy();
    observer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const committedNames = (): string[] =>
    (observer.prepare('select name from items order by id').all() as { name: string }[]).map((r) => r.name);

  it('stores the writes of one turn with one commit, and settles each only once it is committed', async () => {
    const seenAtSettle: number[] = [];
    const writes = Array.from({ length: 20 }, (_, i) =>
      db
        .insertInto('items')
        .values({ id: i + 1, name: `item ${i}` })
        .execute()
        .then(() => seenAtSettle.push(committedNames().length)),
    );
    await Promise.all(writes);
    expect(dialect.commits).toBe(1);
    expect(seenAtSettle).toEqual(Array.from({ length: 20 }, () => 20));
    expect(native.inTransaction).toBe(false);
  });

  it('fails only the statement that broke a constraint; the rest of its group is stored', async () => {
    await db.insertInto('items').values({ id: 1, name: 'taken' }).execute();
    const results = await Promise.allSettled([
      db.insertInto('items').values({ id: 2, name: 'a' }).execute(),
      db.insertInto('items').values({ id: 3, name: 'taken' }).execute(),
      db.insertInto('items').values({ id: 4, name: 'b' }).execute(),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(isUniqueViolation((results[1] as PromiseRejectedResult).reason)).toBe(true);
    expect(committedNames()).toEqual(['taken', 'a', 'b']);
  });

  it('rolls back a failed transaction alone, while concurrent writes and transactions of the same turn commit together', async () => {
    const failing = db.transaction().execute(async (trx) => {
      await trx.insertInto('items').values({ id: 10, name: 'undone 1' }).execute();
      await trx.insertInto('items').values({ id: 11, name: 'undone 2' }).execute();
      throw new Error('the caller changed its mind');
    });
    const succeeding = Array.from({ length: 5 }, (_, i) =>
      db.transaction().execute(async (trx) => {
        await trx
          .insertInto('items')
          .values({ id: 20 + 2 * i, name: `pair ${i} a` })
          .execute();
        await trx
          .insertInto('items')
          .values({ id: 21 + 2 * i, name: `pair ${i} b` })
          .execute();
      }),
    );
    const single = db.insertInto('items').values({ id: 40, name: 'single' }).execute();
    await expect(failing).rejects.toThrow('the caller changed its mind');
    await Promise.all([...succeeding, single]);
    expect(committedNames()).toEqual([
      'pair 0 a',
      'pair 0 b',
      'pair 1 a',
      'pair 1 b',
      'pair 2 a',
      'pair 2 b',
      'pair 3 a',
      'pair 3 b',
      'pair 4 a',
      'pair 4 b',
      'single',
    ]);
    expect(dialect.commits).toBe(1);
  });

  it('fails every statement of a group whose commit fails, stores none of them, and commits the next group', async () => {
    const results = await Promise.allSettled([
      db.insertInto('items').values({ id: 1, name: 'lost with the group' }).execute(),
      db.insertInto('children').values({ id: 1, parent_id: 404 }).execute(),
      db.transaction().execute(async (trx) => {
        await trx.insertInto('parents').values({ id: 1 }).execute();
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/FOREIGN KEY/);
    expect(committedNames()).toEqual([]);
    expect(native.inTransaction).toBe(false);

    await db.insertInto('items').values({ id: 2, name: 'next group' }).execute();
    expect(committedNames()).toEqual(['next group']);
  });

  it('answers a read at once when no write is pending, and after the commit when one is', async () => {
    await db.insertInto('items').values({ id: 1, name: 'first' }).execute();
    const commitsBefore = dialect.commits;
    const rows = await db.selectFrom('items').select('name').execute();
    expect(rows).toEqual([{ name: 'first' }]);
    expect(dialect.commits).toBe(commitsBefore);
    expect(native.inTransaction).toBe(false);

    const write = db.insertInto('items').values({ id: 2, name: 'second' }).execute();
    const read = db
      .selectFrom('items')
      .select('name')
      .execute()
      .then((r) => ({ rows: r, committed: committedNames() }));
    await write;
    // The read saw the pending write, and was answered only once that write was durable.
    expect(await read).toEqual({ rows: [{ name: 'first' }, { name: 'second' }], committed: ['first', 'second'] });
  });

  it('keeps a transaction isolated from other callers while it awaits between statements', async () => {
    const trx = db.transaction().execute(async (t) => {
      await t.insertInto('items').values({ id: 1, name: 'inside' }).execute();
      await new Promise((r) => setTimeout(r, 30));
      const names = await t.selectFrom('items').select('name').execute();
      throw Object.assign(new Error('abort'), { names });
    });
    const outside = db.insertInto('items').values({ id: 2, name: 'outside' }).execute();
    const err = (await trx.catch((e: unknown) => e)) as { names: { name: string }[] };
    await outside;
    // The outside write waited for the lock: it was neither inside the transaction nor undone with it.
    expect(err.names).toEqual([{ name: 'inside' }]);
    expect(committedNames()).toEqual(['outside']);
  });

  it('raw SQL goes through the same group', async () => {
    await Promise.all([
      sql`insert into items (id, name) values (${1}, ${'raw'})`.execute(db),
      db.insertInto('items').values({ id: 2, name: 'built' }).execute(),
    ]);
    expect(committedNames()).toEqual(['raw', 'built']);
    expect(dialect.commits).toBe(1);
  });
});
