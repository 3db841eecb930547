/**
 * npm run bench [-- <name>] [options]
 *   (no name)   the comparison with bare `ws`, quick profile; `-- --full` for the full one (bench/compare.ts)
 *   profile     agentgate under --cpu-prof during the events/s workload, top functions by self time (bench/profile.ts)
 *   all         every single-purpose benchmark below, one after another
 *   golden-path, abuse, scale, resume, sse
 *   big-user    one user with 20,000 threads: GET /threads time and event-loop delay (bench/big-user.ts)
 *   mcp         a tool call through MCP (stdio, HTTP, per-user) against a built-in tool; per-user process memory
 *   statements  PostgreSQL statements and Redis commands per run, counted by the servers (bench/statements.ts)
 *   startup     node dist/main.js: spawn → /health/ready and idle RSS, against a bare node HTTP server
 *   event-rows  SQLite's cost per stored event: a row per event against a row per burst (bench/event-rows.ts)
 *   log-line    what a run's log line costs: createLogger against pino's wildcard redact paths (bench/log-line.ts)
 */
const benches: Record<string, () => Promise<unknown>> = {
  compare: () => import('./compare.js'),
  profile: () => import('./profile.js'),
  'golden-path': () => import('./golden-path.js'),
  abuse: () => import('./abuse.js'),
  scale: () => import('./scale.js'),
  resume: () => import('./resume.js'),
  sse: () => import('./sse.js'),
  'big-user': () => import('./big-user.js'),
  mcp: () => import('./mcp-tools.js'),
  statements: () => import('./statements.js'),
  startup: () => import('./startup.js'),
  'event-rows': () => import('./event-rows.js'),
  'log-line': () => import('./log-line.js'),
};
const SINGLE_PURPOSE = ['golden-path', 'abuse', 'scale', 'resume', 'sse'];
/** Options that take a value: the value is not a benchmark name. */
const WITH_VALUE = new Set([
  '--n',
  '--passes',
  '--log-level',
  '--only',
  '--seconds',
  '--connections',
  '--users',
  '--handshakes',
  '--runs',
]);

const args = process.argv.slice(2);
const name = args.find((a, i) => !a.startsWith('--') && !WITH_VALUE.has(args[i - 1] ?? '')) ?? 'compare';
if (name === 'all') {
  for (const key of SINGLE_PURPOSE) await benches[key]!();
} else if (benches[name] !== undefined) {
  await benches[name]();
} else {
  console.error(`unknown benchmark ${name}; known: ${Object.keys(benches).join(', ')}, all`);
  process.exitCode = 2;
}
