import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { sqliteForThisFile } from '../../src/testing/sqlite-for-this-file.js';
import { PreparedQuery } from '../../src/storage/sql/prepared.js';
import { storedUser } from '../runs/run-manager-deps.js';

const db = await sqliteForThisFile('prepared');

describe('PreparedQuery', () => {
  it('runs the SQL compiled once with each call’s values, constants of the query kept in place', async () => {
    await storedUser(db, { id: 'u1' });
    await storedUser(db, { id: 'u2' });
    let builds = 0;
    const byEmail = new PreparedQuery(2, (q, email: string, id: string) => {
      builds += 1;
      return q
        .selectFrom('users')
        .select('id')
        .where((eb) => eb.or([eb('email', '=', email), eb('id', '=', id)]))
        .where('disabled_at', 'is', null)
        .where('email', '!=', 'nobody@example.com');
    });
    expect(await byEmail.first(db, 'u1@example.com', 'none')).toEqual({ id: 'u1' });
    expect(await byEmail.first(db, 'none', 'u2')).toEqual({ id: 'u2' });
    expect(await byEmail.first(db, 'none', 'none')).toBeUndefined();
    expect(builds).toBe(1);
  });

  it('refuses a query that branches on an argument or writes it into the SQL text', async () => {
    // A branch that leaves an argument out when built with its stand-in (one that keeps it cannot be told apart).
    const branching = new PreparedQuery(1, (q, id: string) =>
      id.startsWith('u') ? q.selectFrom('users').select('id').where('id', '=', id) : q.selectFrom('users').select('id'),
    );
    await expect(branching.execute(db, 'u1')).rejects.toThrow(/argument 0 is not a plain parameter/);
    const inlined = new PreparedQuery(1, (q, id: string) =>
      q
        .selectFrom('users')
        .select('id')
        .where(sql<boolean>`id = ${sql.lit(id)}`),
    );
    await expect(inlined.execute(db, 'u1')).rejects.toThrow(/argument 0 is not a plain parameter/);
  });
});
