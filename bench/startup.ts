/**
 * Start-up time and idle memory of the built server, against a bare Node.js HTTP server in the same run.
 *   npm run bench -- startup [--n 5]
 * Each of n passes starts, one after the other, a bare `http.createServer` (`node -e`) and `node dist/main.js`
 * with the embedded defaults (SQLite in a fresh DATA_DIR, the offline agent), on a free port: the time from spawn
 * to the first 200 of GET /health/ready (the bare server answers 200 to any path), then the resident memory
 * (VmRSS from /proc) after 2 s idle. Prints medians with min–max and agentgate ÷ bare node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { fixed, median } from './lib/stats.js';

const nFlag = process.argv.indexOf('--n');
const passes = nFlag >= 0 ? Number(process.argv[nFlag + 1]) : 5;
const IDLE_MS = 2_000;
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const BARE = `require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')`;

interface Sample {
  readonly readyMs: number;
  readonly rssMiB: number;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function rssMiB(pid: number): number {
  const kB = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kB === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kB) / 1024;
}

async function measure(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Sample> {
  const port = await freePort();
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Printed only when the server fails to start.
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}:\n${stderr}`);
      if (performance.now() - t0 > 60_000) throw new Error(`${args.join(' ')} was not ready in 60 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const readyMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, IDLE_MS));
    return { readyMs, rssMiB: rssMiB(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const bare: Sample[] = [];
const agentgate: Sample[] = [];
for (let i = 0; i < passes; i++) {
  bare.push(await measure(['-e', BARE], {}));
  const dataDir = mkdtempSync(join(tmpdir(), 'agentgate-startup-'));
  try {
    agentgate.push(await measure([MAIN], { DATA_DIR: dataDir, LOG_LEVEL: 'warn' }));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const row = (label: string, pick: (s: Sample) => number, unit: string, digits: number): void => {
  const spread = (xs: Sample[]): string => {
    const v = xs.map(pick);
    return `${fixed(median(v), digits)} ${unit} (${fixed(Math.min(...v), digits)}–${fixed(Math.max(...v), digits)})`;
  };
  const ratio = median(agentgate.map(pick)) / median(bare.map(pick));
  console.log(
    `  ${label.padEnd(28)} bare node ${spread(bare).padEnd(26)} agentgate ${spread(agentgate).padEnd(30)} ${fixed(ratio, 1)}x`,
  );
};
console.log(
  `start-up, ${passes} pass${passes === 1 ? '' : 'es'} (median, min–max): node dist/main.js, embedded defaults, fresh DATA_DIR`,
);
row('spawn → /health/ready 200', (s) => s.readyMs, 'ms', 0);
row(`RSS after ${IDLE_MS / 1000} s idle`, (s) => s.rssMiB, 'MiB', 1);
