import { describe, expect, it } from 'vitest';
import { isStatementRefused } from '../../src/storage/index.js';

/** The line between "the database refused this statement" (not an outage) and "the database is unavailable". */
describe('isStatementRefused', () => {
  it('a PostgreSQL server error refusing the statement (data, constraint, syntax) is a refusal', () => {
    for (const code of ['22021', '22001', '23505', '23503', '42P01', '40001']) {
      expect(isStatementRefused({ code, severity: 'ERROR', message: 'x' }), code).toBe(true);
    }
  });

  it('a PostgreSQL server error saying it is unavailable is not: connection, resources, shutdown, system, internal', () => {
    for (const code of ['08006', '08001', '53300', '57P01', '57P03', '58030', 'XX000']) {
      expect(isStatementRefused({ code, severity: 'FATAL', message: 'x' }), code).toBe(false);
    }
  });

  it('socket errors, timeouts and errors of unknown shape are not refusals (they count as outages)', () => {
    expect(isStatementRefused(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isStatementRefused(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(false);
    expect(isStatementRefused(new Error('timeout exceeded when trying to connect'))).toBe(false);
    expect(isStatementRefused({ code: '22021' })).toBe(false);
    expect(isStatementRefused(undefined)).toBe(false);
  });

  it('SQLite: constraint and SQL errors are refusals; busy, locked, I/O, full and unopenable are not', () => {
    for (const code of [
      'SQLITE_CONSTRAINT_UNIQUE',
      'SQLITE_CONSTRAINT_FOREIGNKEY',
      'SQLITE_ERROR',
      'SQLITE_MISMATCH',
    ]) {
      expect(isStatementRefused({ code }), code).toBe(true);
    }
    for (const code of ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR_WRITE', 'SQLITE_FULL', 'SQLITE_CANTOPEN']) {
      expect(isStatementRefused({ code }), code).toBe(false);
    }
  });
});
