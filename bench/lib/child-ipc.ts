/**
 * Child side of the benchmark's processes: answers the parent's commands over IPC, reports its own CPU and memory,
 * and exits by itself when the parent goes away or its lifetime (BENCH_LIFETIME_MS) is over.
 */
import { performance } from 'node:perf_hooks';

export type Command = { readonly cmd: string; readonly id: number } & Record<string, unknown>;
export type Handler = (command: Command) => unknown;

/** A process's own counters: CPU is cumulative (the parent takes differences), RSS after a GC when one is exposed. */
export interface ProcessStats {
  readonly wallMs: number;
  readonly cpuUs: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
}

export function processStats(collect: boolean): ProcessStats {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (collect && gc !== undefined) {
    gc();
    gc();
  }
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return {
    wallMs: performance.now(),
    cpuUs: cpu.user + cpu.system,
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    external: mem.external,
  };
}

/** Serves commands until the parent disconnects. `stats` is answered for every child. */
export function serveCommands(handlers: Record<string, Handler>, onExit: () => Promise<void> | void = () => {}): void {
  if (process.send === undefined) throw new Error('run this file through bench/ (it needs an IPC channel)');
  const exit = (code: number): void => {
    void Promise.resolve(onExit()).finally(() => process.exit(code));
  };
  const lifetime = Number(process.env.BENCH_LIFETIME_MS ?? 600_000);
  setTimeout(() => {
    console.error(`${process.argv[1] ?? 'child'}: lifetime of ${lifetime} ms is over, exiting`);
    exit(3);
  }, lifetime).unref();
  process.on('disconnect', () => exit(0));
  process.on('SIGTERM', () => exit(0));
  process.on('message', (raw: unknown) => {
    const command = raw as Command;
    const handler = command.cmd === 'stats' ? () => processStats(command.gc === true) : handlers[command.cmd];
    if (handler === undefined)
      return void process.send!({ id: command.id, ok: false, error: `unknown command ${command.cmd}` });
    Promise.resolve()
      .then(() => handler(command))
      .then(
        (result) => process.send!({ id: command.id, ok: true, result }),
        (err: unknown) =>
          process.send!({
            id: command.id,
            ok: false,
            error: err instanceof Error ? (err.stack ?? err.message) : String(err),
          }),
      );
  });
}

export function announceReady(info: unknown): void {
  process.send!({ ready: info });
}
