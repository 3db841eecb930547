/**
 * npm run bench -- big-user
 *
 * One user with 20,000 threads (issue 20.4): eight parallel GET /threads must not stall the server for everyone.
 * Measured in this process: the wall time of the eight answers and the largest event-loop delay meanwhile, for the
 * big user (default page, and the largest page) against a user with one thread, measured in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { openSqlite } from '../src/storage/index.js';
import { createTestApp, registerUser, request } from '../src/testing/index.js';

const THREADS = 20_000;
const PARALLEL = 8;

const dataDir = mkdtempSync(join(tmpdir(), 'agentgate-bench-big-user-'));
const setup = await createTestApp({ DATA_DIR: dataDir });
const [small, big] = await Promise.all([registerUser(setup.url, 'small'), registerUser(setup.url, 'big')]);
const message = { id: 'm', role: 'user', content: 'hello' };
await request(setup.url, 'POST', '/agui', {
  token: small.accessToken,
  body: { threadId: 'one', runId: 'one', state: {}, tools: [], context: [], forwardedProps: {}, messages: [message] },
});
await setup.close();

// The big user's threads go straight into the database, with the server stopped (it owns DATA_DIR while it runs):
// 20,000 runs would take minutes and measure nothing new.
const db = await openSqlite(dataDir);
const base = Date.now();
for (let from = 0; from < THREADS; from += 500) {
  const rows = Array.from({ length: Math.min(500, THREADS - from) }, (_, i) => {
    const at = new Date(base - (from + i) * 1000).toISOString();
    return { id: `t-${from + i}`, user_id: big.user.id, title: `thread ${from + i}`, created_at: at, updated_at: at };
  });
  await db.insertInto('threads').values(rows).execute();
}
await db.destroy();

const app = await createTestApp({ DATA_DIR: dataDir });
const measure = async (token: string, path: string) => {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const started = performance.now();
  const pages = await Promise.all(
    Array.from({ length: PARALLEL }, () => request<{ threads: unknown[] }>(app.url, 'GET', path, { token })),
  );
  const ms = performance.now() - started;
  delay.disable();
  return { ms, maxDelayMs: delay.max / 1e6, threads: pages[0]?.body.threads.length ?? 0 };
};
try {
  await measure(small.accessToken, '/threads'); // warm-up
  const baseline = await measure(small.accessToken, '/threads');
  console.log(`${PARALLEL} parallel GET /threads; baseline: a user with 1 thread, same run`);
  console.log(`  baseline: ${baseline.ms.toFixed(1)} ms, max event-loop delay ${baseline.maxDelayMs.toFixed(1)} ms`);
  for (const path of ['/threads', '/threads?limit=500']) {
    const r = await measure(big.accessToken, path);
    console.log(
      `  ${THREADS} threads, ${path}: ${r.threads} per page, ${r.ms.toFixed(1)} ms (${(r.ms / baseline.ms).toFixed(2)}x baseline), ` +
        `max event-loop delay ${r.maxDelayMs.toFixed(1)} ms (${(r.maxDelayMs / baseline.maxDelayMs).toFixed(2)}x)`,
    );
  }
} finally {
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
}
