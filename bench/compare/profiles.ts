/** What each profile measures. quick (default) must finish in under 3 minutes on the 2-core reference machine. */
export interface Profile {
  readonly name: 'quick' | 'full';
  /** Interleaved passes (bare, corked, agentgate, bare, ...); figures are medians over them. */
  readonly passes: number;
  readonly throughput: {
    readonly connections: readonly number[];
    readonly warmupMs: number;
    readonly windowMs: number;
  };
  readonly latency: {
    readonly connections: number;
    readonly eventsPerSecond: number;
    readonly warmupMs: number;
    readonly windowMs: number;
  };
  readonly handshakes: { readonly count: number; readonly concurrency: number };
  /** Idle connection counts for RSS per connection (fresh server each), and passes for them. */
  readonly idle: { readonly connections: readonly number[]; readonly passes: number };
  /** A rate every server sustains (5,000 events/s, ~1 MB/s): only the stall, not overload, may grow memory. */
  readonly stall: { readonly requestsPerSecond: number; readonly durationMs: number } | undefined;
  readonly cycles: { readonly connections: number; readonly cycles: number } | undefined;
}

export const PROFILES: Record<Profile['name'], Profile> = {
  quick: {
    name: 'quick',
    passes: 3,
    throughput: { connections: [100, 1_000], warmupMs: 1_000, windowMs: 2_000 },
    latency: { connections: 1_000, eventsPerSecond: 40_000, warmupMs: 1_000, windowMs: 2_000 },
    handshakes: { count: 2_000, concurrency: 64 },
    idle: { connections: [5_000], passes: 1 },
    stall: undefined,
    cycles: undefined,
  },
  full: {
    name: 'full',
    passes: 3,
    throughput: { connections: [100, 1_000, 5_000], warmupMs: 2_000, windowMs: 5_000 },
    latency: { connections: 1_000, eventsPerSecond: 40_000, warmupMs: 2_000, windowMs: 5_000 },
    handshakes: { count: 8_000, concurrency: 64 },
    idle: { connections: [5_000, 19_900], passes: 3 },
    stall: { requestsPerSecond: 100, durationMs: 20_000 },
    cycles: { connections: 5_000, cycles: 5 },
  },
};

/** Connections one generator process holds at most (the per-process file-descriptor cap here is 20,000). */
export const CONNECTIONS_PER_GENERATOR = 5_000;

/** Generators for `connections`: one up to 1,000 (it is far from busy), then one per 2,500, at least 2 past 5,000. */
export const generatorsFor = (connections: number): number =>
  connections <= 1_000
    ? 1
    : Math.max(Math.ceil(connections / 2_500), Math.ceil(connections / CONNECTIONS_PER_GENERATOR));

/** Connections per user when idle sockets are counted (the throughput runs use one user per connection). */
export const IDLE_CONNECTIONS_PER_USER = 20;
