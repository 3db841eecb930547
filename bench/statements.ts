/**
 * What one run costs PostgreSQL and Redis, counted by the servers themselves (for docs/SCALING.md's capacity model).
 *   npm run bench -- statements [--n 20]     (needs TEST_DATABASE_URL and TEST_REDIS_URL)
 * Starts agentgate on a fresh PostgreSQL database and a Redis key prefix of its own, opens one socket, and runs n
 * comparison runs (`burst 48 23`: 50 events) one after another. PostgreSQL logs every statement of that database
 * (`ALTER DATABASE … SET log_statement = 'all'`; the count is read back from the server log, so it needs read access
 * to it), Redis reports every command touching the prefix (MONITOR). Prints statements and commands per run by kind,
 * and the stored bytes per event; then what 60 Bearer handshakes cost, one after another (each until
 * connection_established). Then `--users U` (default 200) users stream at once, each a run of a delta every
 * 50 ms for 5 s (20 tokens/s, as a model streams), and it prints what that costs per event: statements, Redis
 * commands and this process's CPU (the server and the U test clients, which share it: an upper bound).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Redis } from 'ioredis';
import { BenchAgent } from './bench-agent.js';
import { REQUEST_TEXT } from './lib/workload.js';
import { createTestApp, registerUser, TestSocket, wsUrl } from '../src/testing/index.js';
import { createTestDatabase, TEST_DATABASE_URL, TEST_REDIS_URL, testRedisPrefix } from '../src/testing/services.js';

const argv = process.argv.slice(2);
const nIndex = argv.indexOf('--n');
const runs = nIndex >= 0 ? Number(argv[nIndex + 1]) : 20;
const usersIndex = argv.indexOf('--users');
const streamingUsers = usersIndex >= 0 ? Number(argv[usersIndex + 1]) : 200;
const POSTGRES_LOG = process.env.POSTGRES_LOG ?? '/var/log/postgresql/postgresql-15-main.log';

if (TEST_DATABASE_URL === undefined || TEST_REDIS_URL === undefined) {
  console.error('statements: needs TEST_DATABASE_URL and TEST_REDIS_URL');
  process.exit(2);
}
try {
  statSync(POSTGRES_LOG);
} catch {
  console.error(`statements: cannot read the PostgreSQL log at ${POSTGRES_LOG} (set POSTGRES_LOG)`);
  process.exit(2);
}

const db = await createTestDatabase();
const dbName = new URL(db.url).pathname.slice(1);
const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
await admin.connect();
// The name is ours (hex), not input.
await admin.query(`ALTER DATABASE ${dbName} SET log_statement = 'all'`);

const prefix = testRedisPrefix();
const app = await createTestApp(
  {
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    JWT_SECRET_KEY: randomBytes(32).toString('base64url'),
  },
  { agent: new BenchAgent() },
);
const monitor = new Redis(TEST_REDIS_URL);
const commands = new Map<string, number>();
let counting = false;
const watching = await monitor.monitor();
watching.on('monitor', (_time: string, args: string[]) => {
  if (!counting || !args.some((a) => a.includes(prefix))) return;
  const name = args[0]!.toLowerCase();
  commands.set(name, (commands.get(name) ?? 0) + 1);
});

const logLines = (): string[] => readFileSync(POSTGRES_LOG, 'utf8').split('\n');
/** This database's statements in the server log from line `from` on, by kind (INSERT…) and by text (cut at 90). */
function statementsSince(from: number): { byKind: Map<string, number>; byText: Map<string, number>; total: number } {
  const byKind = new Map<string, number>();
  const byText = new Map<string, number>();
  let total = 0;
  for (const line of logLines().slice(from)) {
    if (!line.includes(`@${dbName} `)) continue;
    const found = /LOG: {2}(?:statement|execute [^:]*): ((\w+).*)$/.exec(line);
    if (found === null) continue;
    const kind = found[2]!.toUpperCase();
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    const text = found[1]!.slice(0, 90);
    byText.set(text, (byText.get(text) ?? 0) + 1);
    total += 1;
  }
  return { byKind, byText, total };
}
try {
  const user = await registerUser(app.url, 'statements');
  const socket = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${user.accessToken}` } });
  // One run first: the thread exists, statements are prepared; the counted runs are the steady state.
  const runOnce = async (id: string, threadId?: string): Promise<{ threadId: string; events: number }> => {
    socket.send({ type: 'user_message', id, text: REQUEST_TEXT, ...(threadId === undefined ? {} : { threadId }) });
    const accepted = await socket.next((m) => m.type === 'message_accepted' && m.replyTo === id, 30_000);
    if (accepted.type !== 'message_accepted') throw new Error('not accepted');
    const events = await socket.runEvents(accepted.runId, 30_000);
    return { threadId: accepted.threadId, events: events.length };
  };
  const first = await runOnce('warm-up');
  const before = logLines().length;
  counting = true;
  let events = 0;
  for (let i = 0; i < runs; i++) events += (await runOnce(`run-${i}`, first.threadId)).events;
  // Let PostgreSQL write its log and Redis its last MONITOR lines.
  await new Promise((resolve) => setTimeout(resolve, 500));
  counting = false;
  const { byKind: statements, byText: texts } = statementsSince(before);
  socket.close();

  const size = new pg.Client({ connectionString: db.url });
  await size.connect();
  const stored = await size.query<{ bytes: string; rows: string }>(
    // A row is a burst of events (migration 009): seq..last_seq.
    "SELECT pg_total_relation_size('run_events')::text AS bytes, sum(last_seq - seq + 1)::text AS rows FROM run_events",
  );
  await size.end();
  const perRun = (n: number): string => (n / runs).toFixed(2);
  const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
  console.log(`${runs} runs of ${events / runs} events each, one after another, on one socket (after one warm-up run)`);
  console.log(`PostgreSQL statements per run: ${perRun(total(statements))}`);
  for (const [kind, n] of [...statements].sort((a, b) => b[1] - a[1])) console.log(`  ${kind.padEnd(8)} ${perRun(n)}`);
  console.log('  by statement:');
  for (const [text, n] of [...texts].sort((a, b) => b[1] - a[1])) console.log(`    ${perRun(n)}  ${text}`);
  console.log(`Redis commands per run: ${perRun(total(commands))}`);
  for (const [name, n] of [...commands].sort((a, b) => b[1] - a[1])) console.log(`  ${name.padEnd(12)} ${perRun(n)}`);
  const row = stored.rows[0]!;
  console.log(
    `run_events on disk: ${(Number(row.bytes) / Number(row.rows)).toFixed(0)} bytes per event (${row.rows} events, table and indexes)`,
  );

  // Handshakes: a user's socket opened again and again (a page reloaded, tabs opened), each until it is usable.
  const handshakeUsers = await Promise.all([0, 1, 2].map((i) => registerUser(app.url, `handshake-${i}`)));
  const handshake = async (token: string): Promise<void> =>
    (await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${token}` } })).close();
  for (const u of handshakeUsers) await handshake(u.accessToken);
  const handshakeLog = logLines().length;
  commands.clear();
  counting = true;
  const HANDSHAKES = 60;
  for (let i = 0; i < HANDSHAKES; i++) await handshake(handshakeUsers[i % handshakeUsers.length]!.accessToken);
  await new Promise((resolve) => setTimeout(resolve, 500));
  counting = false;
  const { byText: handshakeStatements } = statementsSince(handshakeLog);
  const perHandshake = (n: number): string => (n / HANDSHAKES).toFixed(2);
  console.log(
    `\n${HANDSHAKES} Bearer handshakes of ${handshakeUsers.length} users, one after another, each until connection_established`,
  );
  console.log(`PostgreSQL statements per handshake: ${perHandshake(total(handshakeStatements))}`);
  for (const [text, n] of [...handshakeStatements].sort((a, b) => b[1] - a[1]))
    console.log(`    ${perHandshake(n)}  ${text}`);
  console.log(`Redis commands per handshake: ${perHandshake(total(commands))}`);
  for (const [name, n] of [...commands].sort((a, b) => b[1] - a[1]))
    console.log(`  ${name.padEnd(12)} ${perHandshake(n)}`);

  // Streaming: many users at once, each at 20 tokens per second.
  const streamers = await Promise.all(
    Array.from({ length: streamingUsers }, async (_, i) => {
      const u = await registerUser(app.url, `stream-${i}`);
      return TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${u.accessToken}` } });
    }),
  );
  const logBefore = logLines().length;
  commands.clear();
  counting = true;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const streamed = await Promise.all(
    streamers.map(async (ws, i) => {
      ws.send({ type: 'user_message', id: `stream-${i}`, text: 'tick 50 5000' });
      const accepted = await ws.next((m) => m.type === 'message_accepted', 30_000);
      if (accepted.type !== 'message_accepted') throw new Error('not accepted');
      return (await ws.runEvents(accepted.runId, 60_000)).length;
    }),
  );
  const wallMs = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  await new Promise((resolve) => setTimeout(resolve, 500));
  counting = false;
  for (const ws of streamers) ws.close();
  const streamStatements = statementsSince(logBefore).total;
  const streamEvents = streamed.reduce((a, b) => a + b, 0);
  const perEvent = (n: number): string => (n / streamEvents).toFixed(3);
  console.log(
    `\nstreaming: ${streamingUsers} users at once, ${streamEvents} events in ${(wallMs / 1000).toFixed(1)} s (${Math.round((streamEvents * 1000) / wallMs)} events/s)`,
  );
  console.log(`  PostgreSQL statements per event: ${perEvent(streamStatements)}`);
  console.log(`  Redis commands per event: ${perEvent(total(commands))}`);
  for (const [name, n] of [...commands].sort((a, b) => b[1] - a[1]).slice(0, 5))
    console.log(`    ${name.padEnd(12)} ${perEvent(n)}`);
  console.log(
    `  CPU of this process (server and clients): ${(((cpu.user + cpu.system) / wallMs / 1000) * 100).toFixed(0)}% of a core, ${((cpu.user + cpu.system) / streamEvents).toFixed(1)} µs per event`,
  );
} finally {
  monitor.disconnect();
  await app.close();
  await admin.end();
  await db.drop();
}
