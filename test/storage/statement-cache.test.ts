import SqliteDatabase from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { withStatementCache } from '../../src/storage/sqlite/statement-cache.js';

describe('SQLite statement cache', () => {
  it('reuses a prepared statement for the same SQL and forgets the least recently used past its size', () => {
    const native = new SqliteDatabase(':memory:');
    const db = withStatementCache(native, 2);
    const a = db.prepare('select 1');
    expect(db.prepare('select 1')).toBe(a);
    const b = db.prepare('select 2');
    db.prepare('select 1');
    db.prepare('select 3');
    // 'select 2' was the least recently used of the three: dropped; 'select 1' kept.
    expect(db.prepare('select 1')).toBe(a);
    expect(db.prepare('select 2')).not.toBe(b);
    db.close();
  });

  it('gives a fresh statement while the cached one is still iterating', () => {
    const native = new SqliteDatabase(':memory:');
    native.exec('create table t (x integer); insert into t values (1), (2), (3);');
    const db = withStatementCache(native);
    const sql = 'select x from t order by x';
    const iterator = db.prepare(sql).iterate([]);
    expect(iterator.next().value).toEqual({ x: 1 });
    expect(db.prepare(sql).all([])).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }]);
    expect([...iterator]).toEqual([{ x: 2 }, { x: 3 }]);
    db.close();
  });
});
