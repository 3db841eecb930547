/**
 * The processes of one comparison run: the servers under test (each its own child process, each reporting its own
 * CPU and RSS over IPC) and a pool of load-generator processes. Servers run with --expose-gc so memory is read
 * after a full collection.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { createTestDatabase, TEST_DATABASE_URL, TEST_REDIS_URL } from '../../src/testing/services.js';
import { Child } from '../lib/children.js';
import type { ProcessStats } from '../lib/child-ipc.js';

export type ServerKind = 'bare' | 'corked' | 'agentgate' | 'agentgate-pg';
export type Auth = 'none' | 'ticket' | 'bearer' | 'subprotocol';

export const SERVER_LABELS: Record<ServerKind, string> = {
  bare: 'bare ws',
  corked: 'corked ws',
  agentgate: 'agentgate (SQLite)',
  'agentgate-pg': 'agentgate (PostgreSQL + Redis)',
};

/** The node flags of package.json's `start` script (`node <flags> dist/main.js`). */
const START_FLAGS = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }
).scripts.start
  .split(' ')
  .filter((word) => word.startsWith('--'));

export const pgAvailable = (): boolean => TEST_DATABASE_URL !== undefined && TEST_REDIS_URL !== undefined;

export interface ServerOptions {
  /** Users to pre-register (agentgate only). */
  readonly users: number;
  readonly logLevel: string;
  readonly lifetimeMs: number;
  /** Extra node flags (the profile helper adds --cpu-prof). */
  readonly nodeFlags?: readonly string[];
}

export class Server {
  private constructor(
    readonly kind: ServerKind,
    readonly child: Child,
    readonly port: number,
    readonly path: string,
    /** Access tokens of the pre-registered users (agentgate), in creation order. */
    readonly tokens: readonly string[],
    private readonly cleanup: () => Promise<void>,
  ) {}

  get isAgentgate(): boolean {
    return this.kind === 'agentgate' || this.kind === 'agentgate-pg';
  }

  get label(): string {
    return SERVER_LABELS[this.kind];
  }

  static async start(kind: ServerKind, options: ServerOptions): Promise<Server> {
    const nodeFlags = ['--expose-gc', ...(options.nodeFlags ?? [])];
    if (kind === 'bare' || kind === 'corked') {
      const { child, ready } = await Child.start<{ port: number; path: string }>(
        kind,
        'servers/ws-baseline.ts',
        [kind],
        { nodeFlags, lifetimeMs: options.lifetimeMs },
      );
      return new Server(kind, child, ready.port, ready.path, [], async () => {});
    }
    const env: Record<string, string> = {};
    let drop = async (): Promise<void> => {};
    if (kind === 'agentgate-pg') {
      if (!pgAvailable()) throw new Error('agentgate-pg needs TEST_DATABASE_URL and TEST_REDIS_URL');
      const db = await createTestDatabase();
      drop = () => db.drop();
      Object.assign(env, {
        DATABASE_URL: db.url,
        REDIS_URL: TEST_REDIS_URL!,
        REDIS_KEY_PREFIX: `agentgate-bench:${randomBytes(6).toString('hex')}:`,
      });
    }
    try {
      const { child, ready } = await Child.start<{ port: number; path: string; tokens: string[] }>(
        kind,
        'servers/agentgate-server.ts',
        [String(options.users), options.logLevel],
        {
          // The flags `npm start` runs the server with: the product as shipped, not as a bare node.
          nodeFlags: [...nodeFlags, ...START_FLAGS],
          env: { AGENTGATE_BENCH_ENV: JSON.stringify(env) },
          lifetimeMs: options.lifetimeMs,
        },
      );
      return new Server(kind, child, ready.port, ready.path, ready.tokens, drop);
    } catch (err) {
      await drop();
      throw err;
    }
  }

  stats(gc = false): Promise<ProcessStats> {
    return this.child.call<ProcessStats>('stats', { gc });
  }

  /**
   * Stats after a full GC once RSS has stopped falling: a server just started still hands start-up memory back to
   * the system for a while, and a baseline read too early makes every later reading look small (even negative).
   */
  async settledStats(maxWaitMs = 10_000): Promise<ProcessStats> {
    const until = Date.now() + maxWaitMs;
    let last = await this.stats(true);
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 500));
      const now = await this.stats(true);
      const settled = Math.abs(now.rss - last.rss) < 1024 * 1024;
      last = now;
      if (settled) break;
    }
    return last;
  }

  connections(): Promise<number> {
    return this.child.call<number>('connections');
  }

  /** Waits until the server counts at most `n` open connections (bounded); returns the last count. */
  async settleConnections(n: number, timeoutMs = 15_000): Promise<number> {
    const until = Date.now() + timeoutMs;
    let count = await this.connections();
    while (count > n && Date.now() < until) {
      await delay(50);
      count = await this.connections();
    }
    return count;
  }

  /**
   * Waits until the server is idle (under 5% of a core over 250 ms, at most timeoutMs): agentgate's runs go on
   * after their client stops asking, and their work must not spill into the next server's measurement.
   */
  async quiesce(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const a = this.child.cpu();
      await delay(250);
      const b = this.child.cpu();
      if (!((b.cpuUs - a.cpuUs) / 1000 / (b.wallMs - a.wallMs) > 0.05) || Date.now() > until) return;
    }
  }

  async stop(): Promise<void> {
    await this.child.stop();
    await this.cleanup();
  }
}

/** Counters a generator reports on `mark` (cumulative; differences give the window). */
export interface GeneratorMark extends ProcessStats {
  readonly events: number;
  readonly requests: number;
  readonly badBursts: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly refused: number;
  readonly open: number;
}

export interface OpenResult {
  readonly opened: number;
  readonly failures: Record<string, number>;
  readonly mintMs: number;
  readonly connectMs: number;
}

/** Load generator processes, started on demand and reused for the whole run. */
export class Generators {
  private readonly pool: Child[] = [];

  constructor(private readonly lifetimeMs: number) {}

  async take(n: number): Promise<Child[]> {
    while (this.pool.length < n) {
      const name = `gen${this.pool.length}`;
      const { child } = await Child.start(name, 'load/generator.ts', [name], { lifetimeMs: this.lifetimeMs });
      this.pool.push(child);
    }
    return this.pool.slice(0, n);
  }

  /**
   * Opens `count` connections to `server`, split over `gens` generators. Connection i authenticates as user
   * tokenOf(i) (agentgate) or not at all (baselines).
   */
  async open(
    server: Server,
    gens: readonly Child[],
    count: number,
    tokenOf: (i: number) => number,
    auth: Auth = server.isAgentgate ? 'ticket' : 'none',
  ): Promise<OpenResult> {
    const group = server.kind;
    const parts = split(count, gens.length);
    let first = 0;
    const results = await Promise.all(
      gens.map((g, k) => {
        const n = parts[k]!;
        const tokens = server.isAgentgate
          ? Array.from({ length: n }, (_, j) => server.tokens[tokenOf(first + j) % server.tokens.length]!)
          : [];
        first += n;
        return g.call<OpenResult>(
          'open',
          { group, port: server.port, path: server.path, auth, tokens, count: n, waitFirstFrame: server.isAgentgate },
          180_000,
        );
      }),
    );
    const failures: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
    return {
      opened: results.reduce((s, r) => s + r.opened, 0),
      failures,
      mintMs: Math.max(...results.map((r) => r.mintMs)),
      connectMs: Math.max(...results.map((r) => r.connectMs)),
    };
  }

  /** Closes the connections of one server's group (of every group when none is named). */
  async closeAll(gens: readonly Child[], server?: Server): Promise<void> {
    await Promise.all(gens.map((g) => g.call('closeAll', server === undefined ? {} : { group: server.kind }, 30_000)));
  }

  async stop(): Promise<void> {
    await Promise.all(this.pool.map((g) => g.stop(2_000)));
  }
}

/** `total` split into `parts` near-equal counts. */
export function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, k) => Math.floor(total / parts) + (k < total % parts ? 1 : 0));
}
