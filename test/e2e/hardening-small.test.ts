import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { startApp } from '../../src/app/index.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { createTestApp, registerUser, request, type TestApp } from '../../src/testing/index.js';
import { TEST_DATABASE_URL } from '../../src/testing/services.js';
import { abortOpenStreams, endOf, sse } from './helpers/sse.js';

/** Hardening, the smaller findings: nosniff everywhere, ids up to 128 characters routable, a missing database named. */

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  abortOpenStreams();
  await app?.close();
});

describe('hardening: smaller findings', () => {
  it('every API answer says X-Content-Type-Options: nosniff, errors included', async () => {
    const user = await registerUser(app.url, 'nosniff');
    for (const [path, token] of [
      ['/health/live', undefined],
      ['/threads', user.accessToken],
      ['/threads', undefined],
      ['/no/such/route', undefined],
    ] as const) {
      const res = await fetch(
        `${app.url}${path}`,
        token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
      );
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
  });

  it('a run and thread id of 128 characters minted over POST /agui can be read back on every route that takes an id', async () => {
    const user = await registerUser(app.url, 'long-ids');
    const runId = `r${'x'.repeat(127)}`;
    const threadId = `t${'y'.repeat(127)}`;
    const stream = await sse(`${app.url}/agui`, {
      method: 'POST',
      token: user.accessToken,
      body: {
        threadId,
        runId,
        messages: [{ id: 'm1', role: 'user', content: 'calculate 2+2' }],
        tools: [],
        context: [],
        state: {},
        forwardedProps: {},
      },
    });
    expect(await endOf(stream, 10_000)).toBe('end');
    const token = user.accessToken;
    expect((await request(app.url, 'GET', `/runs/${runId}/events`, { token })).status).toBe(200);
    expect((await request(app.url, 'GET', `/threads/${threadId}`, { token })).status).toBe(200);
    expect((await request(app.url, 'GET', `/threads/${threadId}/messages`, { token })).status).toBe(200);
    // One character more names nothing.
    const tooLong = await request(app.url, 'GET', `/runs/${runId}z/events`, { token });
    expect([tooLong.status, (tooLong.body as { error?: { code?: string } }).error?.code]).toEqual([404, 'not_found']);
  });
});

describeWithServices(['postgres'], 'hardening: a DATABASE_URL naming a database that does not exist', () => {
  it('start-up says which database is missing and how to create it, not "cannot reach PostgreSQL"', async () => {
    const url = new URL(TEST_DATABASE_URL!);
    const name = `agentgate_missing_${randomUUID().slice(0, 8)}`;
    url.pathname = `/${name}`;
    const config = loadConfig({
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'silent',
      DATABASE_URL: url.toString(),
    });
    const err = await startApp(config).then(
      async (started) => (await started.stop(), undefined),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`no database "${name}"`);
    expect((err as Error).message).toContain('createdb');
  });
});
