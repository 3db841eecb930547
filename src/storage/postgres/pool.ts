import { createHash } from 'node:crypto';
import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import type pg from 'pg';
import { isPreparedSql } from '../sql/prepared.js';

/** The name each prepared SQL text goes by on the server: the same on every connection and instance. */
const names = new Map<string, string>();

function nameOf(sql: string): string | undefined {
  let name = names.get(sql);
  if (name === undefined && isPreparedSql(sql)) {
    name = `agentgate_${createHash('sha256').update(sql).digest('base64url').slice(0, 20)}`;
    names.set(sql, name);
  }
  return name;
}

/** The pool Kysely gets, and how long its oldest waiting statement has waited for a connection. */
export interface WatchedPool {
  readonly pool: PostgresPool;
  /** Milliseconds the oldest statement still waiting for a connection has waited (0 when none waits). */
  oldestWaitMs(): number;
}

/**
 * Wraps pg's pool for Kysely. Statements compiled once by PreparedQuery (the ones of every message and run) are
 * sent as named statements, which each connection parses and plans once instead of on every call; everything else
 * goes through unchanged. Every wait for a connection is timed, for load shedding (DATABASE_QUEUE_WAIT_MS).
 */
export function watchedPool(pool: pg.Pool, now: () => number = Date.now): WatchedPool {
  const clients = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  // Since when each waiting connect() waits, oldest first (a Map keeps insertion order).
  const waiting = new Map<number, number>();
  let next = 0;
  return {
    pool: {
      async connect() {
        const id = next++;
        waiting.set(id, now());
        let client: pg.PoolClient;
        try {
          client = await pool.connect();
        } finally {
          waiting.delete(id);
        }
        let naming = clients.get(client);
        if (naming === undefined) clients.set(client, (naming = namingClient(client)));
        return naming;
      },
      end: () => pool.end(),
    },
    oldestWaitMs() {
      for (const since of waiting.values()) return now() - since;
      return 0;
    },
  };
}

function namingClient(client: pg.PoolClient): PostgresPoolClient {
  function query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  function query<R>(
    sqlOrCursor: string | PostgresCursor<R>,
    parameters?: ReadonlyArray<unknown>,
  ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof sqlOrCursor !== 'string') return client.query(sqlOrCursor as never);
    const name = nameOf(sqlOrCursor);
    const values = parameters as unknown[];
    const result =
      name === undefined ? client.query(sqlOrCursor, values) : client.query({ name, text: sqlOrCursor, values });
    return result as Promise<unknown> as Promise<PostgresQueryResult<R>>;
  }
  return { query, release: () => client.release() };
}
