import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { RedisConnection } from '../storage/index.js';

/** Where the scale-out suites find PostgreSQL and Redis (.ci/run exports both when the machine has them). */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL;

export const MISSING = {
  postgres:
    'TEST_DATABASE_URL is not set (run .ci/run, or export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test)',
  redis: 'TEST_REDIS_URL is not set (run .ci/run, or export TEST_REDIS_URL=redis://127.0.0.1:6379)',
} as const;

export type Service = keyof typeof MISSING;

/** A fresh, empty PostgreSQL database beside TEST_DATABASE_URL's, dropped by `drop()`. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (TEST_DATABASE_URL === undefined) throw new Error(MISSING.postgres);
  const name = `agentgate_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    // The name is ours (hex), not input; identifiers cannot be bound as parameters.
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A key prefix no other test (or deployment) uses, so suites sharing one Redis never see each other's keys. */
export function testRedisPrefix(): string {
  return `agentgate-test:${randomBytes(6).toString('hex')}:`;
}

export async function connectTestRedis(keyPrefix = testRedisPrefix()): Promise<RedisConnection> {
  if (TEST_REDIS_URL === undefined) throw new Error(MISSING.redis);
  return RedisConnection.connect({ url: TEST_REDIS_URL, keyPrefix });
}
