/**
 * Delivered events per second (closed loop) and latency at a fixed offered rate (open loop), for one server and
 * one pass. The servers stay up across passes, and so do the connections of one connection count (idle while
 * another server is measured); after each measurement the server is left to finish its work before the next one.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Child, CpuSample } from '../lib/children.js';
import { quantile } from '../lib/stats.js';
import { EVENTS_PER_REQUEST } from '../lib/workload.js';
import { split, type GeneratorMark, type Generators, type Server, type ServerKind } from './fleet.js';
import { generatorsFor, type Profile } from './profiles.js';

/** The throughput window spans at least this many requests per connection (slow servers answer in waves)... */
const WINDOW_ROUNDS = 3;
/** ...but waits at most this long for them, beyond the profile's window. */
const ROUND_WAIT_MS = 30_000;

/** A generator above this share of one core may itself be the bottleneck. */
export const CLIENT_BOUND_SHARE = 0.9;
/** Server plus generators above this many cores: the 2-core machine itself is saturated. */
export const MACHINE_CORES_SATURATED = 1.9;

export interface LoadSample {
  readonly server: ServerKind;
  readonly pass: number;
  readonly connections: number;
  readonly opened: number;
  readonly eventsPerSecond: number;
  readonly serverCores: number;
  readonly serverCpuUsPerEvent: number;
  /** Each generator's share of one core over the window. */
  readonly generatorCores: readonly number[];
  readonly clientBound: boolean;
  readonly machineSaturated: boolean;
  readonly badBursts: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  /** Requests the server refused `overloaded` (retried after the hint by the closed loop). */
  readonly refused: number;
}

export interface LatencySample extends LoadSample {
  readonly offeredEventsPerSecond: number;
  readonly p50StartedMs: number;
  readonly p99StartedMs: number;
  readonly p50TerminalMs: number;
  readonly p99TerminalMs: number;
  readonly samples: number;
  readonly late: number;
  readonly missing: number;
  /** Requests due in the window that were refused `overloaded`: answered, but not served (not in the latencies). */
  readonly refusedInWindow: number;
  /** Delivered at least 95% of the offered events: otherwise its CPU is not comparable. */
  readonly keptUp: boolean;
}

export const cores = (a: CpuSample, b: CpuSample): number => (b.cpuUs - a.cpuUs) / 1000 / (b.wallMs - a.wallMs);

/** Counters from every generator, and the CPU of every process, read at one moment. */
interface Snapshot {
  readonly server: CpuSample;
  readonly generators: readonly CpuSample[];
  readonly marks: readonly GeneratorMark[];
}

async function snapshot(server: Server, gens: readonly Child[]): Promise<Snapshot> {
  const cpu = { server: server.child.cpu(), generators: gens.map((g) => g.cpu()) };
  return { ...cpu, marks: await Promise.all(gens.map((g) => g.call<GeneratorMark>('mark', { group: server.kind }))) };
}

function base(
  server: Server,
  pass: number,
  connections: number,
  opened: number,
  a: Snapshot,
  b: Snapshot,
  events: number,
  eventsPerSecond: number,
): LoadSample {
  const [s0, s1, m0, m1] = [a.server, b.server, a.marks, b.marks];
  const generatorCores = b.generators.map((g, k) => cores(a.generators[k]!, g));
  const serverCores = cores(s0, s1);
  return {
    server: server.kind,
    pass,
    connections,
    opened,
    eventsPerSecond,
    serverCores,
    serverCpuUsPerEvent: events > 0 ? (s1.cpuUs - s0.cpuUs) / events : NaN,
    generatorCores,
    clientBound: generatorCores.some((c) => c >= CLIENT_BOUND_SHARE),
    machineSaturated: serverCores + generatorCores.reduce((s, c) => s + c, 0) >= MACHINE_CORES_SATURATED,
    badBursts: m1.reduce((s, m, k) => s + m.badBursts - m0[k]!.badBursts, 0),
    errors: m1.reduce((s, m, k) => s + m.errors - m0[k]!.errors, 0),
    firstError: m1.find((m) => m.firstError !== undefined)?.firstError,
    refused: m1.reduce((s, m, k) => s + m.refused - m0[k]!.refused, 0),
  };
}

/** Connections to one server, open on some generators (in the group named after the server). */
export interface OpenConnections {
  readonly server: Server;
  readonly gens: readonly Child[];
  readonly count: number;
  readonly opened: number;
}

/** Opens `count` connections (user i for connection i) to the server, on as many generators as that needs. */
export async function openConnections(server: Server, generators: Generators, count: number): Promise<OpenConnections> {
  const gens = await generators.take(generatorsFor(count));
  const { opened } = await generators.open(server, gens, count, (i) => i);
  return { server, gens, count, opened };
}

/** Closed loop: every connection sends its next request when the previous burst has fully arrived. */
export async function measureThroughput(on: OpenConnections, pass: number, profile: Profile): Promise<LoadSample> {
  const { server, gens } = on;
  const group = { group: server.kind };
  const requests = async (): Promise<number> =>
    (await Promise.all(gens.map((g) => g.call<GeneratorMark>('mark', group)))).reduce((n, m) => n + m.requests, 0);
  /** Waits until `rounds` requests per connection have completed since `from` (at most ROUND_WAIT_MS). */
  const rounds = async (from: number, count: number): Promise<void> => {
    const until = Date.now() + ROUND_WAIT_MS;
    while ((await requests()) - from < count * on.count && Date.now() < until) await delay(50);
  };
  const start = await requests();
  await Promise.all(gens.map((g) => g.call('closedStart', group)));
  // A slow server answers in waves (every connection's request, then every burst): warm up for one whole round,
  // and measure over several, so the window cannot fall between two waves.
  await delay(profile.throughput.warmupMs);
  await rounds(start, 1);
  const a = await snapshot(server, gens);
  await delay(profile.throughput.windowMs);
  await rounds(
    a.marks.reduce((n, m) => n + m.requests, 0),
    WINDOW_ROUNDS,
  );
  const b = await snapshot(server, gens);
  // Let the requests in flight finish (their runs go on anyway), so the next measurement starts on an idle machine.
  await Promise.all(gens.map((g) => g.call('closedStop', { ...group, drainMs: 60_000 }, 90_000)));
  await server.quiesce();
  const [m0, m1] = [a.marks, b.marks];
  const events = m1.reduce((s, m, k) => s + m.events - m0[k]!.events, 0);
  // Each generator's own clock: a mark answered late shifts both ends of its window alike.
  const eventsPerSecond = m1.reduce(
    (s, m, k) => s + ((m.events - m0[k]!.events) * 1000) / (m.wallMs - m0[k]!.wallMs),
    0,
  );
  return base(server, pass, on.count, on.opened, a, b, events, eventsPerSecond);
}

interface OpenLoopReply {
  readonly toStarted: number[];
  readonly toTerminal: number[];
  readonly late: number;
  readonly missing: number;
  readonly refused: number;
  readonly events: number;
  readonly windowMs: number;
}

/** Open loop at the profile's offered rate; latency from when each request was due. */
export async function measureLatency(on: OpenConnections, pass: number, profile: Profile): Promise<LatencySample> {
  const { server, gens, count } = on;
  const { eventsPerSecond: offered, warmupMs, windowMs } = profile.latency;
  const group = { group: server.kind };
  const requestsPerSecond = offered / EVENTS_PER_REQUEST;
  const shares = split(count, gens.length).map((n) => (requestsPerSecond * n) / count);
  const cpuAt = (ms: number): Promise<{ server: CpuSample; generators: CpuSample[] }> =>
    delay(ms).then(() => ({ server: server.child.cpu(), generators: gens.map((g) => g.cpu()) }));
  const m0 = await Promise.all(gens.map((g) => g.call<GeneratorMark>('mark', group)));
  const [replies, c0, c1] = await Promise.all([
    Promise.all(
      gens.map((g, k) =>
        g.call<OpenLoopReply>(
          'openLoop',
          { ...group, requestsPerSecond: shares[k], warmupMs, windowMs },
          warmupMs + windowMs + 30_000,
        ),
      ),
    ),
    cpuAt(warmupMs),
    cpuAt(warmupMs + windowMs),
  ]);
  await server.quiesce();
  // Counters over the whole loop (warm-up and drain included); CPU over the window.
  const m1 = await Promise.all(gens.map((g) => g.call<GeneratorMark>('mark', group)));
  const events = replies.reduce((s, r) => s + r.events, 0);
  // A request whose terminal event never came (before the drain ended) counts as infinitely late: dropping it
  // would make an overloaded server look fast.
  const never = Array.from({ length: replies.reduce((s, r) => s + r.missing, 0) }, () => Infinity);
  const toStarted = [...replies.flatMap((r) => r.toStarted), ...never];
  const toTerminal = [...replies.flatMap((r) => r.toTerminal), ...never];
  return {
    ...base(
      server,
      pass,
      count,
      on.opened,
      { ...c0, marks: m0 },
      { ...c1, marks: m1 },
      events,
      (events * 1000) / windowMs,
    ),
    offeredEventsPerSecond: offered,
    p50StartedMs: quantile(toStarted, 0.5),
    p99StartedMs: quantile(toStarted, 0.99),
    p50TerminalMs: quantile(toTerminal, 0.5),
    p99TerminalMs: quantile(toTerminal, 0.99),
    samples: toTerminal.length - never.length,
    late: replies.reduce((s, r) => s + r.late, 0),
    missing: never.length,
    refusedInWindow: replies.reduce((s, r) => s + r.refused, 0),
    keptUp: events * 1000 >= 0.95 * offered * windowMs,
  };
}
