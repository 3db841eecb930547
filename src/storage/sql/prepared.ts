import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from 'kysely';
import type { Database } from '../schema.js';

/** Stands for argument i while the query is built: text no caller's value can be. */
const marker = (i: number): string => `\u0000agentgate prepared parameter ${i}\u0000`;

/** Every SQL text a PreparedQuery compiled: PostgreSQL keeps them parsed on each connection (named statements). */
const preparedSql = new Set<string>();

export const isPreparedSql = (sql: string): boolean => preparedSql.has(sql);

/** Where each parameter of the compiled SQL comes from: an argument of the call, or a constant of the query. */
type Slot = { readonly argument: number } | { readonly constant: unknown };

/**
 * A query Kysely builds and compiles once, then runs with each call's values: building and compiling cost more
 * than running the small statements of a run's admission (5-10 µs each, and garbage), on every message.
 *
 * `build` gets stand-ins for its arguments and must pass each one, untouched, as a value of the query: no branch or
 * arithmetic on them (a query of another shape is another PreparedQuery). The first compilation checks that every
 * argument became a parameter and none was written into the SQL text, and throws otherwise.
 */
export class PreparedQuery<Args extends readonly unknown[], Row> {
  private compiled: { readonly sql: string; readonly slots: readonly Slot[] } | undefined;

  constructor(
    private readonly arity: Args['length'],
    private readonly build: (db: Kysely<Database>, ...args: Args) => Compilable<Row>,
  ) {}

  /** Runs the query on `db` (the store's database, or a transaction of it) with these values. */
  async execute(db: Kysely<Database>, ...args: Args): Promise<QueryResult<Row>> {
    const { sql, slots } = (this.compiled ??= this.compile(db));
    const parameters = slots.map((slot) => ('argument' in slot ? args[slot.argument] : slot.constant));
    return db.executeQuery<Row>(CompiledQuery.raw(sql, parameters));
  }

  async first(db: Kysely<Database>, ...args: Args): Promise<Row | undefined> {
    return (await this.execute(db, ...args)).rows[0];
  }

  /** Rows inserted, updated or deleted. */
  async affected(db: Kysely<Database>, ...args: Args): Promise<bigint> {
    return (await this.execute(db, ...args)).numAffectedRows ?? 0n;
  }

  private compile(db: Kysely<Database>): { sql: string; slots: Slot[] } {
    const markers = Array.from({ length: this.arity }, (_, i) => marker(i));
    const { sql, parameters } = this.build(db, ...(markers as unknown as Args)).compile();
    const slots = parameters.map((p): Slot => {
      const argument = markers.indexOf(p as string);
      return argument >= 0 ? { argument } : { constant: p };
    });
    const misused = markers.findIndex(
      (m, i) => sql.includes(m) || !slots.some((slot) => 'argument' in slot && slot.argument === i),
    );
    if (misused >= 0) throw new Error(`prepared query: argument ${misused} is not a plain parameter of ${sql}`);
    preparedSql.add(sql);
    return { sql, slots };
  }
}
