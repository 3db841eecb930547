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

/**
 * The pool Kysely gets: statements compiled once by PreparedQuery (the ones of every message and run) are sent as
 * named statements, which each connection parses and plans once instead of on every call. Everything else goes
 * through unchanged.
 */
export function namingPool(pool: pg.Pool): PostgresPool {
  const clients = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  return {
    async connect() {
      const client = await pool.connect();
      let naming = clients.get(client);
      if (naming === undefined) clients.set(client, (naming = namingClient(client)));
      return naming;
    },
    end: () => pool.end(),
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
