// Imports vitest: for test files only (helper processes and benchmarks import services.ts instead).
import { describe } from 'vitest';
import { MISSING, TEST_DATABASE_URL, TEST_REDIS_URL, type Service } from './services.js';

const available = (service: Service): boolean =>
  (service === 'postgres' ? TEST_DATABASE_URL : TEST_REDIS_URL) !== undefined;

/**
 * A describe block that needs real services; where one is missing it is skipped, and its title and a warning on
 * stderr say which and how to provide it.
 */
export function describeWithServices(services: readonly Service[], name: string, body: () => void): void {
  const missing = services.filter((s) => !available(s));
  if (missing.length === 0) return void describe(name, body);
  const reason = missing.map((s) => MISSING[s]).join('; ');
  process.stderr.write(`[skip] ${name}: ${reason}\n`);
  describe.skip(`${name} [skipped: ${reason}]`, body);
}
