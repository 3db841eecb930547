import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { createTestApp, registerUser, request, type TestApp } from '../../src/testing/index.js';
import { createTestDatabase, TEST_DATABASE_URL, TEST_REDIS_URL, testRedisPrefix } from '../../src/testing/services.js';
import { eventually } from './helpers/runs.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

describeWithServices(['postgres', 'redis'], 'scale: PostgreSQL connections cut under load (behind a proxy)', () => {
  let proxy: TcpProxy;
  let app: TestApp;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    database = await createTestDatabase();
    const target = new URL(TEST_DATABASE_URL!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    app = await createTestApp({
      DATABASE_URL: proxy.url(database.url),
      REDIS_URL: TEST_REDIS_URL!,
      REDIS_KEY_PREFIX: testRedisPrefix(),
      JWT_SECRET_KEY: randomBytes(48).toString('base64'),
    });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await proxy?.close();
    await database?.drop();
  });

  it('queries in flight when every PostgreSQL connection drops fail as 503s, the process lives on, and service resumes once the database is back', async () => {
    const user = await registerUser(app.url, 'pg-cut');
    // Keep queries in flight while the connections are cut: each must fail, not crash the process.
    const inFlight = Array.from({ length: 20 }, () => request(app.url, 'GET', '/auth/me', { token: user.accessToken }));
    await proxy.cut();
    const answers = await Promise.all([...inFlight, request(app.url, 'GET', '/health/ready')]);
    for (const a of answers) expect([200, 503]).toContain(a.status);
    expect((await request<{ failing?: string[] }>(app.url, 'GET', '/health/ready')).body.failing).toContain('database');
    await proxy.restore();
    // No other traffic: readiness itself must let the auth circuit breaker try again and close.
    await eventually(
      async () => (await request(app.url, 'GET', '/health/ready')).status === 200,
      15_000,
      'readiness after the database returns',
    );
    expect((await request(app.url, 'GET', '/auth/me', { token: user.accessToken })).status).toBe(200);
  }, 40_000);
});
