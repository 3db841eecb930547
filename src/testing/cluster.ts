/**
 * Several real agentgate processes (`node --import tsx src/main.ts`, the production entry point) sharing one
 * PostgreSQL database and one Redis key prefix, as N instances behind a load balancer would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, TEST_REDIS_URL, testRedisPrefix } from './services.js';

/** The entry point: the TypeScript source through tsx (tests), or the built dist/main.js (benchmarks). */
const ENTRY = {
  source: [process.execPath, '--import', 'tsx', fileURLToPath(new URL('../main.ts', import.meta.url))],
  built: [process.execPath, fileURLToPath(new URL('../../dist/main.js', import.meta.url))],
} as const;

export interface Instance {
  readonly url: string;
  readonly instanceId: string;
  readonly child: ChildProcess;
  /** SIGKILL: no graceful stop, nothing flushed. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

export interface Cluster {
  readonly instances: Instance[];
  /** The environment every instance shares. */
  readonly env: Record<string, string>;
  start(): Promise<Instance>;
  close(): Promise<void>;
}

export async function startCluster(
  size: number,
  env: Record<string, string> = {},
  entry: keyof typeof ENTRY = 'source',
): Promise<Cluster> {
  if (TEST_REDIS_URL === undefined) throw new Error('TEST_REDIS_URL is required');
  const database = await createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'agentgate-cluster-'));
  const shared: Record<string, string> = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    DATABASE_POOL_SIZE: '4',
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: testRedisPrefix(),
    JWT_SECRET_KEY: randomBytes(48).toString('base64'),
    LOGIN_ATTEMPTS_PER_MINUTE: '1000',
    REFRESH_ATTEMPTS_PER_MINUTE: '1000',
    TICKETS_PER_MINUTE: '1000',
    RUNS_PER_MINUTE: '100000',
    HANDSHAKES_PER_MINUTE: '100000',
    WS_MESSAGES_PER_SECOND: '10000',
    SHUTDOWN_GRACE_MS: '0',
    ...env,
  };
  const instances: Instance[] = [];
  const cluster: Cluster = {
    instances,
    env: shared,
    start: async () => {
      const instance = await startInstance(ENTRY[entry], shared);
      instances.push(instance);
      return instance;
    },
    close: async () => {
      await Promise.all(instances.map((i) => i.kill()));
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    // One after another: the first migrates the empty database, the others find it migrated.
    for (let i = 0; i < size; i++) await cluster.start();
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

async function startInstance([command, ...args]: readonly string[], env: Record<string, string>): Promise<Instance> {
  const child = spawn(command!, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const listening = await new Promise<{ url: string; instanceId: string }>((resolve, reject) => {
    // tsx compiles the whole server on start: 3-5 s alone, past 30 s on two cores shared with three other suites.
    const timer = setTimeout(() => reject(new Error(`instance did not start within 60 s: ${stderr.join('')}`)), 60_000);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (!line.includes('agentgate listening')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as { url: string; instanceId: string });
    });
    child.once('exit', (code) => reject(new Error(`instance exited ${code} before listening: ${stderr.join('')}`)));
  });
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return {
    url: listening.url,
    instanceId: listening.instanceId,
    child,
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
  };
}
