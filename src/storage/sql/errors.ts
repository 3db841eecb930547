/** True for a unique-constraint failure from better-sqlite3 or pg. */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || !('code' in err)) return false;
  const { code } = err;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/**
 * SQLSTATE classes (PostgreSQL) that mean the database or the link to it is unavailable, not that it refused the
 * statement: 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown, cancel),
 * 58 system error, XX internal error.
 */
const UNAVAILABLE_SQLSTATE_CLASSES = new Set(['08', '53', '57', '58', 'XX']);
/** SQLite result codes that mean the database is unavailable (busy, locked, I/O, full, unopenable, corrupt). */
const UNAVAILABLE_SQLITE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|CORRUPT|NOMEM|READONLY|PROTOCOL|NOTADB)/;

/**
 * True when the database answered and refused this statement for what it holds (a value it cannot store, a
 * constraint, SQL it rejects): a bug or bad input, never a sign that the database is down. Circuit breakers do not
 * count these. A connection failure, a timeout or any error of unknown shape is not a refusal.
 */
export function isStatementRefused(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || !('code' in err) || typeof err.code !== 'string') return false;
  const { code } = err;
  if (code.startsWith('SQLITE_')) return !UNAVAILABLE_SQLITE.test(code);
  // A PostgreSQL server error carries a five-character SQLSTATE; Node's socket errors (ECONNREFUSED...) do not.
  if (/^[0-9A-Z]{5}$/.test(code) && 'severity' in err) return !UNAVAILABLE_SQLSTATE_CLASSES.has(code.slice(0, 2));
  return false;
}
