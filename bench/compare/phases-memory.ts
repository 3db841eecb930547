/**
 * Memory, each on a fresh server process (so earlier load does not leave freed pages for connections to reuse):
 *   idle    RSS per idle authenticated connection (Bearer header, 20 per user), after a full GC: (RSS with N open −
 *           RSS before) / N; beside it, the growth from N/10 open (at most 1,000: they carry the one-time costs)
 *           to N open per added connection, for RSS and for the V8 heap.
 *   stall   one client keeps requesting bursts at a fixed rate but stops reading; server RSS sampled every 250 ms,
 *           beside a control run of the same stream from a client that reads.
 *   cycles  N clients connect (by ticket) and disconnect, several times; RSS and V8 heap after each cycle (after a
 *           full GC).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Server, type Generators, type ServerKind, type ServerOptions } from './fleet.js';
import { generatorsFor, IDLE_CONNECTIONS_PER_USER, type Profile } from './profiles.js';

type Base = Omit<ServerOptions, 'users'>;

export interface IdleSample {
  readonly server: ServerKind;
  readonly connections: number;
  readonly pass: number;
  /** Connections opened first and left out of the per-connection figure (they carry the one-time costs). */
  readonly warm: number;
  readonly opened: number;
  readonly failures: Record<string, number>;
  /** What the server itself counted as open when RSS was read. */
  readonly serverConnections: number;
  /** Before any connection, with the warm ones open, with all open: RSS and V8 heap after a full GC. */
  readonly rss: { readonly empty: number; readonly warm: number; readonly all: number };
  readonly heap: { readonly empty: number; readonly warm: number; readonly all: number };
  /** (all − empty) / connections: the figure, one-time costs (code, pools, heap growth) included. */
  readonly rssPerConnection: number;
  /** (all − warm) / (connections − warm): what one more idle connection costs once those are paid (RSS is coarse: pages already resident are reused). */
  readonly rssPerAddedConnection: number;
  /** V8 heap (all − warm) / (connections − warm): the JavaScript objects of one more connection. */
  readonly heapPerConnection: number;
}

async function withServer<T>(
  kind: ServerKind,
  users: number,
  base: Base,
  work: (server: Server) => Promise<T>,
): Promise<T> {
  const server = await Server.start(kind, { ...base, users });
  try {
    return await work(server);
  } finally {
    await server.stop();
  }
}

/** Connections opened before the first reading: the first sockets also pay for code, pools and heap growth. */
const warmCount = (connections: number): number => Math.min(1_000, Math.floor(connections / 10));

export function measureIdle(
  kind: ServerKind,
  generators: Generators,
  connections: number,
  pass: number,
  base: Base,
): Promise<IdleSample> {
  return withServer(kind, Math.ceil(connections / IDLE_CONNECTIONS_PER_USER), base, async (server) => {
    const gens = await generators.take(generatorsFor(connections));
    const warm = warmCount(connections);
    const userOf = (offset: number) => (i: number) => Math.floor((i + offset) / IDLE_CONNECTIONS_PER_USER);
    // Bearer header (no ticket minting): the connection keeps the same state either way, and set-up is faster.
    const auth = server.isAgentgate ? 'bearer' : 'none';
    const s0 = await server.settledStats();
    try {
      const first = await generators.open(server, gens, warm, userOf(0), auth);
      await delay(500);
      const s1 = await server.stats(true);
      const rest = await generators.open(server, gens, connections - warm, userOf(warm), auth);
      await delay(1_000);
      const serverConnections = await server.connections();
      const s2 = await server.stats(true);
      const failures: Record<string, number> = { ...first.failures };
      for (const [k, v] of Object.entries(rest.failures)) failures[k] = (failures[k] ?? 0) + v;
      return {
        server: kind,
        connections,
        pass,
        warm,
        opened: first.opened + rest.opened,
        failures,
        serverConnections,
        rss: { empty: s0.rss, warm: s1.rss, all: s2.rss },
        heap: { empty: s0.heapUsed, warm: s1.heapUsed, all: s2.heapUsed },
        rssPerConnection: (s2.rss - s0.rss) / Math.max(1, serverConnections),
        rssPerAddedConnection: (s2.rss - s1.rss) / Math.max(1, serverConnections - warm),
        heapPerConnection: (s2.heapUsed - s1.heapUsed) / Math.max(1, serverConnections - warm),
      };
    } finally {
      await generators.closeAll(gens);
    }
  });
}

/** One fixed-rate request stream on one connection, with server RSS sampled every 250 ms. */
export interface StallRun {
  readonly sent: number;
  /** Highest RSS seen during the stream, minus the RSS before it. */
  readonly peakGrowth: number;
  /** RSS (after a full GC) once the stream is over, minus the RSS before it; and the same for the V8 heap. */
  readonly endGrowth: number;
  readonly heapGrowth: number;
  readonly closeCode: number | null;
  readonly closeReason: string;
  /** When the server dropped the connection (ms since the stream began; null: it never did). */
  readonly cutOffAtMs: number | null;
  /** [ms since the stream began, RSS growth in bytes, connections the server counts]. */
  readonly series: readonly (readonly [number, number, number])[];
}

export interface StallSample {
  readonly server: ServerKind;
  readonly requestsPerSecond: number;
  readonly durationMs: number;
  /** The same stream with a client that reads: the growth that is not due to the stall. */
  readonly control: StallRun;
  readonly stalled: StallRun;
}

async function stream(server: Server, generators: Generators, read: boolean, profile: Profile): Promise<StallRun> {
  const { requestsPerSecond, durationMs } = profile.stall!;
  const gens = await generators.take(1);
  await server.quiesce();
  const s0 = await server.stats(true);
  await generators.open(server, gens, 1, () => 0);
  const series: [number, number, number][] = [];
  let sampling = true;
  const t0 = Date.now();
  // RSS straight from /proc every 250 ms; the connection count over IPC, which a busy server answers late.
  let count = 1;
  let asking = false;
  const sampler = (async () => {
    while (sampling) {
      if (!asking) {
        asking = true;
        void server.connections().then(
          (n) => ((count = n), (asking = false)),
          () => (asking = false),
        );
      }
      series.push([Date.now() - t0, server.child.rss() - s0.rss, count]);
      await delay(250);
    }
  })();
  try {
    const reply = await gens[0]!.call<{
      sent: number;
      closeCode: number | null;
      closeReason: string;
      endedAtMs: number | null;
    }>('stall', { group: server.kind, requestsPerSecond, durationMs, read }, durationMs + 60_000);
    sampling = false;
    await sampler;
    await generators.closeAll(gens, server);
    await server.settleConnections(0);
    await server.quiesce();
    const s1 = await server.stats(true);
    // Cut off: the client saw its socket end while it was still sending, or the server stopped counting it.
    const cutOffAtMs =
      reply.endedAtMs !== null && reply.endedAtMs < durationMs
        ? reply.endedAtMs
        : (series.find(([t, , n]) => n === 0 && t < durationMs)?.[0] ?? null);
    const { endedAtMs: _ended, ...rest } = reply;
    return {
      ...rest,
      peakGrowth: Math.max(0, ...series.map(([, g]) => g)),
      endGrowth: s1.rss - s0.rss,
      heapGrowth: s1.heapUsed - s0.heapUsed,
      cutOffAtMs,
      series,
    };
  } finally {
    sampling = false;
    await generators.closeAll(gens, server);
  }
}

/** A control stream (the client reads), then the same stream from a client that stops reading, on one server. */
export function measureStall(
  kind: ServerKind,
  generators: Generators,
  profile: Profile,
  base: Base,
): Promise<StallSample> {
  const { requestsPerSecond, durationMs } = profile.stall!;
  return withServer(kind, 1, base, async (server) => {
    const control = await stream(server, generators, true, profile);
    const stalled = await stream(server, generators, false, profile);
    return { server: kind, requestsPerSecond, durationMs, control, stalled };
  });
}

export interface CycleSample {
  readonly server: ServerKind;
  readonly connections: number;
  readonly rssBefore: number;
  readonly heapBefore: number;
  /** RSS with every connection of the first cycle open (after GC): what the connections occupy. */
  readonly rssConnected: number;
  readonly rssAfter: readonly number[];
  readonly heapAfter: readonly number[];
  readonly opened: readonly number[];
}

export function measureCycles(
  kind: ServerKind,
  generators: Generators,
  profile: Profile,
  base: Base,
): Promise<CycleSample> {
  const { connections, cycles } = profile.cycles!;
  return withServer(kind, Math.ceil(connections / IDLE_CONNECTIONS_PER_USER), base, async (server) => {
    const gens = await generators.take(generatorsFor(connections));
    const s0 = await server.stats(true);
    const rssAfter: number[] = [];
    const heapAfter: number[] = [];
    const opened: number[] = [];
    let rssConnected = NaN;
    for (let c = 0; c < cycles; c++) {
      opened.push(
        (await generators.open(server, gens, connections, (i) => Math.floor(i / IDLE_CONNECTIONS_PER_USER))).opened,
      );
      if (c === 0) rssConnected = (await server.stats(true)).rss;
      await generators.closeAll(gens);
      await server.settleConnections(0);
      await delay(500);
      const s = await server.stats(true);
      rssAfter.push(s.rss);
      heapAfter.push(s.heapUsed);
    }
    return {
      server: kind,
      connections,
      rssBefore: s0.rss,
      heapBefore: s0.heapUsed,
      rssConnected,
      rssAfter,
      heapAfter,
      opened,
    };
  });
}
