/**
 * agentgate under test, in its own process (the build in dist/ unless AGENTGATE_BENCH_CODE=src: see
 * agentgate-code.ts): the real composition root (startApp) with authentication, routing,
 * metrics and persistence on (SQLite in a temp DATA_DIR; PostgreSQL/Redis when DATABASE_URL/REDIS_URL are passed
 * in AGENTGATE_BENCH_ENV), HS256 access tokens, and the bench agent in place of the built-in one (a user_message
 * `burst 48 23` makes a run of 50 events). Rate limits that the benchmark does not measure are lifted so they never
 * bind. Users are pre-registered (seed-users.ts); their access tokens go to the orchestrator in the ready message.
 *   args: <users> <log level>
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningApp } from '../../src/app/index.js';
import { BenchAgent } from '../bench-agent.js';
import { startAllocationProfiler } from '../lib/alloc-profile.js';
import { announceReady, serveCommands } from '../lib/child-ipc.js';
import { app as appModule, codeRoot, config as configModule } from './agentgate-code.js';
import { seedUsers } from './seed-users.js';

const users = Number(process.argv[2] ?? 100);
const logLevel = process.argv[3] ?? 'info';

/** Limits lifted for load (each is its own benchmark elsewhere: bench/abuse.ts); everything else is the default. */
const BENCH_SETTINGS: Record<string, string> = {
  ACCESS_TOKEN_TTL_SECONDS: '86400',
  TICKET_TTL_SECONDS: '600',
  MAX_CONNECTIONS_PER_USER: '10000',
  HANDSHAKES_PER_MINUTE: '1000000',
  TICKETS_PER_MINUTE: '100000',
  RUNS_PER_MINUTE: '100000',
  WS_MESSAGES_PER_SECOND: '100000',
  WS_MESSAGE_BURST: '1000000',
  MAX_RUNS_PER_USER: '1000',
  LOGIN_ATTEMPTS_PER_MINUTE: '100000',
  REFRESH_ATTEMPTS_PER_MINUTE: '100000',
  SHUTDOWN_GRACE_MS: '0',
};

const dataDir = mkdtempSync(join(tmpdir(), 'agentgate-bench-'));
const extra = JSON.parse(process.env.AGENTGATE_BENCH_ENV ?? '{}') as Record<string, string>;
const config = configModule.loadConfig({
  NODE_ENV: 'development',
  HOST: '127.0.0.1',
  PORT: '0',
  DATA_DIR: dataDir,
  LOG_LEVEL: logLevel,
  JWT_SECRET_KEY: randomBytes(32).toString('base64url'),
  ...BENCH_SETTINGS,
  ...extra,
});

const tokens = await seedUsers(config, users);
let app: RunningApp | undefined;
try {
  app = await appModule.startApp(config, { agent: new BenchAgent() });
  // Through the front door once: a seeded token must be accepted like a registered one.
  const me = await fetch(`${app.url}/auth/me`, { headers: { authorization: `Bearer ${tokens[0]}` } });
  if (me.status !== 200) throw new Error(`a seeded access token was refused: GET /auth/me answered ${me.status}`);
} catch (err) {
  rmSync(dataDir, { recursive: true, force: true });
  throw err;
}
const running = app;
// `profile --alloc` names the file for an allocation profile from here until the server is stopped.
const allocationFile = process.env.AGENTGATE_ALLOC_PROFILE;
const allocations = allocationFile === undefined ? undefined : await startAllocationProfiler();

serveCommands({ connections: () => running.gateway.connectionCount }, async () => {
  if (allocations !== undefined && allocationFile !== undefined) await allocations.stop(allocationFile);
  await running.stop();
  rmSync(dataDir, { recursive: true, force: true });
});
announceReady({
  port: running.port,
  path: '/ws',
  tokens,
  code: codeRoot,
  storage: config.database === undefined ? 'sqlite' : 'postgres',
  shared: config.redis === undefined ? 'memory' : 'redis',
});
