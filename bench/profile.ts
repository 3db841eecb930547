/**
 * Where agentgate's hot path spends its time.
 *   npm run bench -- profile [--seconds 10] [--connections 1000] [--pg] [--handshakes ticket|bearer|subprotocol]
 * Runs agentgate (the comparison's server: SQLite, auth, metrics, bench agent; PostgreSQL + Redis with --pg) under
 * `node --cpu-prof --cpu-prof-dir=bench/results/profiles` during the closed-loop events/s workload (or, with
 * --handshakes, back-to-back batches of the comparison's authenticated handshakes), then prints the
 * functions with the most self time, and the files, counting only the samples taken inside the measured window (not
 * start-up or seeding). The .cpuprofile opens in Chrome DevTools (Performance panel) or VS Code.
 * --alloc: instead of CPU, what the server allocates (V8's sampling heap profiler, collected objects included, from
 * its start to its stop: the load dominates), by function; the .heapprofile opens in DevTools' Memory panel.
 */
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Generators, Server, type GeneratorMark } from './compare/fleet.js';
import { measureHandshakes, type HandshakeMode } from './compare/phases-handshake.js';
import { allocationsByFunction } from './lib/alloc-profile.js';
import { PROFILES } from './compare/profiles.js';
import type { CpuSample } from './lib/children.js';
import { fixed, int } from './lib/stats.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const seconds = option('seconds', 10);
const connections = option('connections', 1_000);
const withPg = argv.includes('--pg');
const handshakeIndex = argv.indexOf('--handshakes');
const handshakes = handshakeIndex >= 0 ? (argv[handshakeIndex + 1] as HandshakeMode) : undefined;
if (handshakes !== undefined && !['ticket', 'bearer', 'subprotocol'].includes(handshakes))
  throw new Error('--handshakes takes ticket, bearer or subprotocol');
const TOP = 15;
const alloc = argv.includes('--alloc');

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = `${root}bench/results/profiles`;
mkdirSync(dir, { recursive: true });

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: CallFrame;
    readonly children?: readonly number[];
  }[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const shortUrl = (url: string): string =>
  url
    .replace(`file://${root}`, '')
    .replace(/^.*node_modules\//, '')
    .replace(/^file:\/\//, '');

/** The package (node_modules) or the folder of the build or sources a frame's code belongs to; none for Node's own. */
function ownerOf(url: string): string | undefined {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg !== null) return pkg[1];
  const own = /\/(dist|src|bench)\/(?:([^/]+)\/)?/.exec(url);
  if (own !== null && url.startsWith('file://')) return own[2] === undefined ? own[1] : `${own[1]}/${own[2]}`;
  return undefined;
}

/**
 * Self time (µs) per function and per file, from the samples stamped inside [fromUs, toUs]; and per owner: each
 * sample goes to the nearest frame up its stack that belongs to a package or a folder of ours, so the time in
 * native code and Node's internals (a socket write, JSON) counts for whoever called it.
 */
function selfTimes(
  profile: CpuProfile,
  windows: readonly { readonly fromUs: number; readonly toUs: number }[],
): {
  total: number;
  byFunction: Map<string, number>;
  byFile: Map<string, number>;
  byOwner: Map<string, number>;
  inWindow: boolean;
} {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const owners = new Map<number, string>();
  const ownerOfNode = (id: number): string => {
    const known = owners.get(id);
    if (known !== undefined) return known;
    const frame = frames.get(id)!;
    const parent = parents.get(id);
    const owner =
      frame.functionName === '(root)' || parent === undefined
        ? "Node's own" // callbacks from libuv start at the root: a socket's read, a timer
        : frame.url === '' && frame.functionName.startsWith('(')
          ? frame.functionName // (idle), (program), (garbage collector)
          : (ownerOf(frame.url) ?? ownerOfNode(parent));
    owners.set(id, owner);
    return owner;
  };
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  const stamps = profile.samples.map((_, i) => (t += profile.timeDeltas[i] ?? 0));
  // Cut to the window when the clocks agree (they do on Linux: both CLOCK_MONOTONIC); otherwise keep everything.
  const within = (stamp: number): boolean => windows.some((w) => stamp >= w.fromUs && stamp <= w.toUs);
  const inWindow = stamps.some(within);
  profile.samples.forEach((id, i) => {
    if (inWindow && !within(stamps[i]!)) return;
    const spent = profile.timeDeltas[i + 1] ?? 0;
    const f = frames.get(id);
    if (f === undefined) return;
    const file = f.url === '' ? '(native)' : shortUrl(f.url);
    const key = `${f.functionName === '' ? '(anonymous)' : f.functionName}  ${f.url === '' ? '' : `${file}:${f.lineNumber + 1}`}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + spent);
    byFile.set(file, (byFile.get(file) ?? 0) + spent);
    const owner = ownerOfNode(id);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + spent);
    total += spent;
  });
  return { total, byFunction, byFile, byOwner, inWindow };
}

function top(map: Map<string, number>, total: number, n: number): string[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, us]) => `${fixed((us / total) * 100, 1).padStart(5)}%  ${fixed(us / 1000, 0).padStart(6)} ms  ${key}`);
}

const startedAt = Date.now();
const allocationFile = `${dir}/alloc-${new Date(startedAt).toISOString().replace(/[:.]/g, '-')}.heapprofile`;
// The server child inherits the environment: it samples its allocations and writes them here when stopped.
if (alloc) process.env.AGENTGATE_ALLOC_PROFILE = allocationFile;
const generators = new Generators(600_000);
const server = await Server.start(withPg ? 'agentgate-pg' : 'agentgate', {
  users: connections,
  logLevel: 'info',
  lifetimeMs: 600_000,
  nodeFlags: alloc ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250'],
});
let window: { fromUs: number; toUs: number; events: number } | undefined;
/** Where the samples that count were taken (the handshakes' timed parts; else the whole window). */
let windows: { fromUs: number; toUs: number }[] = [];
// CLOCK_MONOTONIC is one clock for every process on the machine, and V8 stamps profile samples with it.
const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);
const cores = (a: CpuSample, b: CpuSample): number => (b.cpuUs - a.cpuUs) / 1000 / (b.wallMs - a.wallMs);
try {
  if (handshakes !== undefined) await profileHandshakes(handshakes);
  else await profileEvents();
} finally {
  await server.stop();
  await generators.stop();
}

async function profileHandshakes(mode: HandshakeMode): Promise<void> {
  const profile = PROFILES.quick;
  await measureHandshakes(server, generators, mode, 0, profile);
  const c0 = server.child.cpu();
  const fromUs = monotonicUs();
  let done = 0;
  for (let pass = 1; monotonicUs() - fromUs < seconds * 1_000_000; pass += 1) {
    const sample = await measureHandshakes(server, generators, mode, pass, profile);
    done += sample.expected;
    windows.push(sample.windowUs);
  }
  const c1 = server.child.cpu();
  const toUs = monotonicUs();
  window = { fromUs, toUs, events: done };
  console.log(
    `profiled agentgate${withPg ? ' (PostgreSQL + Redis)' : ''}: ${done} handshakes (${mode}) in ${fixed((toUs - fromUs) / 1e6, 1)} s under the profiler, ${fixed((c1.cpuUs - c0.cpuUs) / done, 0)} µs server CPU each`,
  );
}

async function profileEvents(): Promise<void> {
  const [gen] = await generators.take(1);
  const { opened } = await generators.open(server, [gen!], connections, (i) => i);
  await gen!.call('closedStart', { group: server.kind });
  await delay(1_000);
  const c0 = server.child.cpu();
  const fromUs = monotonicUs();
  const m0 = await gen!.call<GeneratorMark>('mark', { group: server.kind });
  await delay(seconds * 1000);
  const c1 = server.child.cpu();
  const toUs = monotonicUs();
  const m1 = await gen!.call<GeneratorMark>('mark', { group: server.kind });
  await gen!.call('closedStop', { group: server.kind, drainMs: 30_000 }, 60_000);
  await generators.closeAll([gen!]);
  window = { fromUs, toUs, events: m1.events - m0.events };
  console.log(
    `profiled agentgate${withPg ? ' (PostgreSQL + Redis)' : ''} (${process.env.AGENTGATE_BENCH_CODE === 'src' ? 'src/ through tsx' : 'dist/'}): ${opened} connections, ${seconds} s window, ${int((window.events * 1000) / (m1.wallMs - m0.wallMs))} events/s under the profiler, server ${fixed(cores(c0, c1), 2)} cores, ${fixed((c1.cpuUs - c0.cpuUs) / window.events, 2)} µs CPU/event`,
  );
}

if (alloc) {
  const bytes = allocationsByFunction(
    JSON.parse(readFileSync(allocationFile, 'utf8')) as Parameters<typeof allocationsByFunction>[0],
  );
  const total = [...bytes.values()].reduce((a, b) => a + b, 0);
  const perEvent =
    window === undefined || window.events === 0
      ? ''
      : `, ~${int(total / window.events)} bytes per ${handshakes === undefined ? 'event' : 'handshake'} (all of it over the measured ones)`;
  console.log(
    `allocation profile: ${allocationFile.replace(root, '')} (${fixed(total / 1e6, 0)} MB sampled from start to stop${perEvent})`,
  );
  console.log(`\ntop ${TOP * 2} functions by bytes allocated:`);
  for (const [key, n] of [...bytes].slice(0, TOP * 2))
    console.log(`  ${fixed((n / total) * 100, 1).padStart(5)}%  ${fixed(n / 1e6, 0).padStart(6)} MB  ${key}`);
  process.exit(0);
}

// One profile per thread (tsx's module loader runs in its own): the main thread's is the largest.
const written = readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .map((f) => ({ f, stat: statSync(`${dir}/${f}`) }))
  .filter((p) => p.stat.mtimeMs >= startedAt)
  .sort((a, b) => b.stat.size - a.stat.size)[0];
if (written === undefined || window === undefined) throw new Error(`no new .cpuprofile in ${dir}`);
const profile = JSON.parse(readFileSync(`${dir}/${written.f}`, 'utf8')) as CpuProfile;
if (windows.length === 0) windows = [window];
const { total, byFunction, byFile, byOwner, inWindow } = selfTimes(profile, windows);
const idle = byFunction.get('(idle)  ') ?? 0;
console.log(
  `profile: bench/results/profiles/${written.f} (${inWindow ? `samples of the measured ${windows.length > 1 ? 'upgrades' : 'window'} only` : 'whole process: the clocks did not line up'}; ${fixed(total / 1000, 0)} ms of ${fixed((window.toUs - window.fromUs) / 1000, 0)} ms sampled, ${fixed((idle / total) * 100, 1)}% idle; shares below are of all of it)`,
);
console.log(`\ntop ${TOP} functions by self time:`);
for (const line of top(byFunction, total, TOP)) console.log(`  ${line}`);
console.log('\ntop 10 files by self time:');
for (const line of top(byFile, total, 10)) console.log(`  ${line}`);
console.log("\ntop 15 owners (a package or a folder of ours, with the native code and Node's internals it called):");
for (const line of top(byOwner, total, 15)) console.log(`  ${line}`);
