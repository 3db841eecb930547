import type { Database as NativeDatabase, Statement } from 'better-sqlite3';

/** Prepared statements kept per database; SQL varies with batch sizes, so the least recently used are dropped. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely's SQLite driver prepares every query afresh; preparing costs about as much as running a small insert.
 * This keeps the statements, keyed by their SQL text. A statement still iterating (a streamed query) is busy and
 * cannot be shared, so a busy one gets a fresh, uncached statement instead.
 */
/** The part of better-sqlite3 Kysely's SQLite drivers use, with prepared statements reused. */
export interface StatementCache {
  prepare(sql: string): Statement;
  close(): void;
}

export function withStatementCache(native: NativeDatabase, size = STATEMENT_CACHE_SIZE): StatementCache {
  const cache = new Map<string, Statement>();
  return {
    close: () => native.close(),
    prepare(sql: string) {
      const cached = cache.get(sql);
      if (cached !== undefined) {
        if (cached.busy) return native.prepare(sql);
        // Re-inserting keeps the Map in least-recently-used order.
        cache.delete(sql);
        cache.set(sql, cached);
        return cached;
      }
      const statement = native.prepare(sql);
      cache.set(sql, statement);
      if (cache.size > size) cache.delete(cache.keys().next().value as string);
      return statement;
    },
  };
}
