/**
 * agentgate against bare `ws`, side by side in one run (issue 9).
 *   npm run bench                       quick profile (under 3 minutes on the 2-core reference machine)
 *   npm run bench -- --full             everything: 100/1,000/5,000 connections, 19,900 idle, stalled reader, cycles
 * Options: --passes N, --log-level L (agentgate's LOG_LEVEL, default info), --pg (also agentgate on PostgreSQL +
 * Redis; on by default when TEST_DATABASE_URL and TEST_REDIS_URL are set, off with --no-pg), --only a,b (throughput,
 * latency, handshakes, idle, stall, cycles; memory = the last three), --write-docs (the table into docs/BENCHMARKS.md).
 * Servers and load generators are separate processes on 127.0.0.1; passes are interleaved (bare, corked, agentgate,
 * bare, ...) and every ratio is taken within one pass. The table prints here; JSON goes to bench/results/.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Generators, pgAvailable, Server, SERVER_LABELS, type ServerKind } from './compare/fleet.js';
import { HANDSHAKE_LABELS, measureHandshakes, type HandshakeMode } from './compare/phases-handshake.js';
import { measureLatency, measureThroughput, openConnections, type OpenConnections } from './compare/phases-load.js';
import { measureCycles, measureIdle, measureStall } from './compare/phases-memory.js';
import { PROFILES, type Profile } from './compare/profiles.js';
import { buildRows, markdownTable, textTable, type Samples } from './compare/report.js';
import { fixed, int, kb, mb } from './lib/stats.js';
import { EVENTS_PER_REQUEST, REQUEST_TEXT } from './lib/workload.js';

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};

const base = PROFILES[flag('full') ? 'full' : 'quick'];
const passes = Number(option('passes') ?? base.passes);
const profile: Profile = { ...base, passes, idle: { ...base.idle, passes: Math.min(base.idle.passes, passes) } };
const logLevel = option('log-level') ?? 'info';
const only = new Set(
  (option('only') ?? 'throughput,latency,handshakes,memory')
    .split(',')
    .flatMap((p) => (p === 'memory' ? ['idle', 'stall', 'cycles'] : [p])),
);
// PostgreSQL + Redis is measured whenever the machine has them (TEST_DATABASE_URL, TEST_REDIS_URL), unless --no-pg.
const withPg = flag('pg') || (!flag('no-pg') && pgAvailable());
if (withPg && !pgAvailable()) throw new Error('--pg needs TEST_DATABASE_URL and TEST_REDIS_URL');
const kinds: ServerKind[] = ['bare', 'corked', 'agentgate', ...(withPg ? (['agentgate-pg'] as const) : [])];
const LIFETIME_MS = profile.name === 'full' ? 3_600_000 : 900_000;
const root = fileURLToPath(new URL('..', import.meta.url));

// Everything is bounded: past this the run gives up (children die with it).
setTimeout(() => {
  console.error(`bench: gave up after ${LIFETIME_MS / 60_000} minutes`);
  process.exit(1);
}, LIFETIME_MS).unref();

const git = (...args: string[]): string => {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
};
const meta = {
  date: new Date().toISOString(),
  command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
  profile: profile.name,
  passes: profile.passes,
  commit: `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src').length > 0 ? ' + uncommitted src changes' : ''}`,
  node: process.version,
  cpu: `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`,
  memory: mb(totalmem()),
  kernel: release(),
  loadAverageAtStart: loadavg()
    .map((x) => fixed(x, 2))
    .join(' '),
  workload: `${EVENTS_PER_REQUEST} JSON events of ~200 B per request (agentgate: user_message "${REQUEST_TEXT}" → message_accepted, message_added, agent_started, ${EVENTS_PER_REQUEST - 2} agent_message_delta, agent_completed; only the ${EVENTS_PER_REQUEST} run events are counted)`,
  agentgateLogLevel: logLevel,
  agentgateCode: process.env.AGENTGATE_BENCH_CODE === 'src' ? 'src/ through tsx' : 'dist/ (npm run build)',
  servers: kinds.map((k) => SERVER_LABELS[k]),
};

const samples: Samples = { throughput: [], latency: [], handshakes: [], idle: [], stall: [], cycles: [] };
const generators = new Generators(LIFETIME_MS);
const started = Date.now();
const log = (line: string): void => console.log(`[${fixed((Date.now() - started) / 1000, 0).padStart(4)} s] ${line}`);
const serverOptions = { logLevel, lifetimeMs: LIFETIME_MS };

console.log(
  `agentgate vs bare ws — ${profile.name} profile, ${profile.passes} interleaved passes — ${meta.cpu}, Node ${meta.node}, load average ${meta.loadAverageAtStart}`,
);

/** Opens `n` connections to every server (kept open across the passes), runs `work`, closes them. */
async function withConnections(
  servers: readonly Server[],
  n: number,
  work: (open: OpenConnections[]) => Promise<void>,
): Promise<void> {
  const open: OpenConnections[] = [];
  try {
    for (const server of servers) {
      const o = await openConnections(server, generators, n);
      open.push(o);
      log(`${int(o.opened)} of ${int(n)} connections open to ${server.label}`);
    }
    await work(open);
  } finally {
    for (const o of open) {
      await generators.closeAll(o.gens, o.server);
      await o.server.settleConnections(0);
    }
  }
}

async function loadPhases(): Promise<void> {
  const users = Math.max(...profile.throughput.connections, profile.latency.connections);
  const servers: Server[] = [];
  const tag = (pass: number): string => `pass ${pass + 1}/${profile.passes}`;
  const latency = async (open: readonly OpenConnections[]): Promise<void> => {
    for (let pass = 0; pass < profile.passes; pass++) {
      for (const on of open) {
        const s = await measureLatency(on, pass, profile);
        samples.latency.push(s);
        log(
          `${tag(pass)} · latency @ ${int(s.offeredEventsPerSecond)} ev/s · ${on.server.label}: started p50 ${fixed(s.p50StartedMs, 2)} p99 ${fixed(s.p99StartedMs, 2)} ms, terminal p50 ${fixed(s.p50TerminalMs, 2)} p99 ${fixed(s.p99TerminalMs, 2)} ms, server ${fixed(s.serverCores, 2)} cores, delivered ${int(s.eventsPerSecond)} ev/s${s.late + s.missing > 0 ? `, ${s.late} late, ${s.missing} missing` : ''}${s.refusedInWindow > 0 ? `, ${s.refusedInWindow} refused` : ''}`,
        );
      }
    }
  };
  try {
    for (const kind of kinds) servers.push(await Server.start(kind, { ...serverOptions, users }));
    log(`servers up: ${servers.map((s) => `${s.label} :${s.port}`).join(', ')}`);
    let latencyDone = !only.has('latency');
    for (const n of only.has('throughput') ? profile.throughput.connections : []) {
      await withConnections(servers, n, async (open) => {
        for (let pass = 0; pass < profile.passes; pass++) {
          for (const on of open) {
            const s = await measureThroughput(on, pass, profile);
            samples.throughput.push(s);
            log(
              `${tag(pass)} · events/s · ${int(n)} conn · ${on.server.label}: ${int(s.eventsPerSecond)} (server ${fixed(s.serverCores, 2)} cores, ${fixed(s.serverCpuUsPerEvent, 2)} µs/event; generators ${s.generatorCores.map((c) => fixed(c, 2)).join('+')})${s.badBursts + s.errors > 0 ? ` ${s.badBursts} bad bursts, ${s.errors} errors: ${s.firstError}` : ''}${s.refused > 0 ? `, ${int(s.refused)} refused overloaded` : ''}`,
            );
          }
        }
        // The latency runs reuse these connections when the counts match.
        if (!latencyDone && n === profile.latency.connections) {
          await latency(open);
          latencyDone = true;
        }
      });
    }
    if (!latencyDone) await withConnections(servers, profile.latency.connections, latency);
    for (let pass = 0; pass < profile.passes && only.has('handshakes'); pass++) {
      for (const server of servers) {
        if (server.kind === 'corked') continue;
        const modes: HandshakeMode[] = server.isAgentgate ? ['ticket', 'bearer', 'subprotocol', 'rejected'] : ['none'];
        for (const mode of modes) {
          const s = await measureHandshakes(server, generators, mode, pass, profile);
          samples.handshakes.push(s);
          log(
            `${tag(pass)} · handshakes · ${server.label}, ${HANDSHAKE_LABELS[mode]}: ${int(s.perSecond)}/s (${fixed(s.serverCpuUsPerHandshake, 0)} µs server CPU each; ${JSON.stringify(s.statuses)})${s.ticketsPerSecond === undefined ? '' : `; tickets minted at ${int(s.ticketsPerSecond)}/s`}`,
          );
        }
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

async function memoryPhases(): Promise<void> {
  const memoryKinds: ServerKind[] = ['bare', 'agentgate'];
  for (let pass = 0; pass < profile.idle.passes && only.has('idle'); pass++) {
    for (const n of profile.idle.connections) {
      for (const kind of memoryKinds) {
        const s = await measureIdle(kind, generators, n, pass, serverOptions);
        samples.idle.push(s);
        log(
          `idle pass ${pass + 1}/${profile.idle.passes} · ${SERVER_LABELS[kind]} · ${int(n)} connections (${s.serverConnections} open): ${kb(s.rssPerConnection)} RSS, ${kb(s.heapPerConnection)} heap per connection${Object.keys(s.failures).length > 0 ? `; failures ${JSON.stringify(s.failures)}` : ''}`,
        );
      }
    }
  }
  if (profile.stall !== undefined && only.has('stall')) {
    for (const kind of memoryKinds) {
      const s = await measureStall(kind, generators, profile, serverOptions);
      samples.stall.push(s);
      log(
        `stalled reader · ${SERVER_LABELS[kind]}: peak RSS +${mb(s.stalled.peakGrowth)} (reading client: +${mb(s.control.peakGrowth)}), after GC +${mb(s.stalled.endGrowth)}, ${s.stalled.cutOffAtMs === null ? 'never cut off' : `cut off after ${fixed(s.stalled.cutOffAtMs / 1000, 1)} s (close frame ${s.stalled.closeCode ?? 'unread'} ${s.stalled.closeReason})`}`,
      );
    }
  }
  if (profile.cycles !== undefined && only.has('cycles')) {
    for (const kind of memoryKinds) {
      const s = await measureCycles(kind, generators, profile, serverOptions);
      samples.cycles.push(s);
      log(
        `cycles · ${SERVER_LABELS[kind]}: RSS ${s.rssAfter.map(mb).join(' → ')}, heap ${s.heapAfter.map(mb).join(' → ')}`,
      );
    }
  }
}

try {
  if (['throughput', 'latency', 'handshakes'].some((p) => only.has(p))) await loadPhases();
  await memoryPhases();
} finally {
  await generators.stop();
}

const rows = buildRows(samples);
const elapsed = `${fixed((Date.now() - started) / 1000, 0)} s`;
console.log(`\n${textTable(rows)}\n`);
console.log(
  `${meta.command} · ${meta.commit} · ${elapsed} · ratios are agentgate ÷ bare ws within each pass, median (min–max) of ${profile.passes}`,
);

const resultsDir = `${root}bench/results`;
mkdirSync(resultsDir, { recursive: true });
const json = JSON.stringify({ meta: { ...meta, elapsed }, profile, rows, samples }, null, 2);
const file = `${resultsDir}/${meta.date.replace(/[:.]/g, '-')}-${profile.name}.json`;
writeFileSync(file, json);
writeFileSync(`${resultsDir}/latest.json`, json);
console.log(`results: ${file.slice(root.length)} (and bench/results/latest.json)`);

if (flag('write-docs')) {
  const docs = `${root}docs/BENCHMARKS.md`;
  const text = readFileSync(docs, 'utf8');
  const start = '<!-- bench:latest:start -->';
  const end = '<!-- bench:latest:end -->';
  const block = `${start}\n\`${meta.command}\` at ${meta.date} (${meta.commit}), ${elapsed}; ${meta.cpu}, ${meta.memory} RAM, Linux ${meta.kernel}, Node ${meta.node}; load average at start ${meta.loadAverageAtStart}.\n\n${markdownTable(rows)}\n${end}`;
  if (!text.includes(start) || !text.includes(end)) throw new Error(`${docs} has no ${start} … ${end} block`);
  writeFileSync(docs, text.slice(0, text.indexOf(start)) + block + text.slice(text.indexOf(end) + end.length));
  console.log('docs/BENCHMARKS.md updated');
}
