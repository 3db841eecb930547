/**
 * Parent side of the benchmark's processes: every server under test and every load generator is a child process
 * (TypeScript through tsx's loader) driven by request/reply messages over the IPC channel. Children are killed when
 * the orchestrator exits, is interrupted, or a call times out; each child also exits by itself when its parent goes
 * away (see child-ipc.ts), so nothing outlives a run.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** CPU time (user + system, all threads) and the parent's clock when it was read. */
export interface CpuSample {
  readonly cpuUs: number;
  readonly wallMs: number;
}

/** Linux page size on x86-64 and most arm64 kernels (statm counts pages). */
const PAGE_BYTES = 4096;
let clockTicks: number | undefined;
const ticksPerSecond = (): number => {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
};

export interface ChildOptions {
  /** Extra node flags (e.g. --expose-gc, --cpu-prof). */
  readonly nodeFlags?: readonly string[];
  readonly env?: Record<string, string>;
  /** The child exits by itself after this long (its own watchdog). */
  readonly lifetimeMs: number;
  /** Show the child's stdout (default: discarded; stderr is always shown). */
  readonly showStdout?: boolean;
}

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
}

const live = new Set<ChildProcess>();
let trapsInstalled = false;

function installTraps(): void {
  if (trapsInstalled) return;
  trapsInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      for (const child of live) child.kill('SIGKILL');
      process.exit(130);
    });
  }
}

export class Child {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<number | null>;
  private readonly readyMessage: Promise<unknown>;

  private constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    let onReady: (v: unknown) => void = () => {};
    this.readyMessage = new Promise((resolve) => (onReady = resolve));
    process.on('message', (raw: unknown) => {
      const msg = raw as Partial<Reply> & { ready?: unknown };
      if (msg.ready !== undefined) return onReady(msg.ready);
      const call = msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (call === undefined) return;
      this.pending.delete(msg.id!);
      if (msg.ok === true) call.resolve(msg.result);
      else call.reject(new Error(`${name}: ${msg.error ?? 'failed'}`));
    });
    this.exited = new Promise((resolve) =>
      process.once('exit', (code) => {
        live.delete(process);
        for (const call of this.pending.values()) call.reject(new Error(`${name} exited (${code})`));
        this.pending.clear();
        resolve(code);
      }),
    );
  }

  /** Starts `file` (relative to bench/) and waits for its `ready` message. */
  static async start<R>(
    name: string,
    file: string,
    args: readonly string[],
    options: ChildOptions,
  ): Promise<{ child: Child; ready: R }> {
    installTraps();
    const path = fileURLToPath(new URL(`../${file}`, import.meta.url));
    const proc = fork(path, [...args], {
      execArgv: ['--import', 'tsx', ...(options.nodeFlags ?? [])],
      env: { ...process.env, ...options.env, BENCH_LIFETIME_MS: String(options.lifetimeMs) },
      stdio: ['ignore', options.showStdout === true ? 'inherit' : 'ignore', 'inherit', 'ipc'],
    });
    live.add(proc);
    const child = new Child(name, proc);
    const ready = await Promise.race([
      child.readyMessage,
      child.exited.then((code) => Promise.reject(new Error(`${name} exited (${code}) before it was ready`))),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`${name} not ready in 120 s`)), 120_000).unref(),
      ),
    ]);
    return { child, ready: ready as R };
  }

  /** Sends a command and resolves with the child's reply; rejects (and kills the child) after timeoutMs. */
  call<R>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.process.kill('SIGKILL');
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as R)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.process.send({ id, cmd, ...args });
    });
  }

  /**
   * The child's CPU time read from /proc by the parent, so a child whose event loop is saturated (and would answer
   * an IPC request late) is still measured on time. NaN where /proc is unavailable.
   */
  cpu(): CpuSample {
    const wallMs = performance.now();
    try {
      const stat = readFileSync(`/proc/${this.process.pid}/stat`, 'latin1');
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      return { cpuUs: (ticks * 1e6) / ticksPerSecond(), wallMs };
    } catch {
      return { cpuUs: NaN, wallMs };
    }
  }

  /** The child's resident set size read from /proc (no IPC, so it is on time even when the child is busy). */
  rss(): number {
    try {
      const pages = Number(readFileSync(`/proc/${this.process.pid}/statm`, 'latin1').split(' ')[1]);
      return pages * PAGE_BYTES;
    } catch {
      return NaN;
    }
  }

  /** Asks the child to exit (SIGTERM: servers shut down cleanly, profiles get written), SIGKILL after graceMs. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
