/**
 * Golden-path latency and cold start, on loopback.
 *   npm run bench -- golden-path [--n 100]
 * Prints medians and p90 of user_message → agent_started and → agent_completed for "calculate 12*7", as absolute
 * values and as ratios to a WebSocket ping → pong round trip measured on the same connection in the same run,
 * then the cold start of `node dist/main.js` (spawn → /health/live answers), median of 5.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createTestApp, registerUser, TestSocket, wsUrl } from '../src/testing/index.js';

const nFlag = process.argv.indexOf('--n');
const n = nFlag >= 0 ? Number(process.argv[nFlag + 1]) : 100;

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const fmt = (ms: number): string => `${ms.toFixed(2)} ms`;

async function latency(): Promise<void> {
  const app = await createTestApp({ MAX_RUNS_PER_USER: '10' });
  try {
    const user = await registerUser(app.url, 'bench');
    const ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${user.accessToken}` } });
    const ping: number[] = [];
    const started: number[] = [];
    const completed: number[] = [];
    // Warm-up: the calculator library loads lazily after start-up.
    for (let i = 0; i < 5; i++) await ask(ws, `calculate ${i}*7`);
    for (let i = 0; i < n; i++) {
      // Interleave the baseline with the measured path so machine noise hits both alike.
      const t0 = performance.now();
      ws.send({ type: 'ping', id: `p${i}` });
      await ws.waitFor((m) => m.type === 'pong' && m.replyTo === `p${i}`);
      ping.push(performance.now() - t0);
      const r = await ask(ws, 'calculate 12*7');
      started.push(r.started);
      completed.push(r.completed);
    }
    ws.close();
    const base = quantile(ping, 0.5);
    console.log(`golden path, n=${n} sequential runs of "calculate 12*7" on one connection (SQLite, persistence on)`);
    console.log(`  baseline ws ping→pong          p50 ${fmt(base)}  p90 ${fmt(quantile(ping, 0.9))}`);
    for (const [name, xs] of [
      ['user_message → agent_started  ', started],
      ['user_message → agent_completed', completed],
    ] as const) {
      const p50 = quantile(xs, 0.5);
      console.log(`  ${name} p50 ${fmt(p50)}  p90 ${fmt(quantile(xs, 0.9))}  (${(p50 / base).toFixed(1)}x ping)`);
    }
  } finally {
    await app.close();
  }
}

async function ask(ws: TestSocket, text: string): Promise<{ started: number; completed: number }> {
  const id = `q${Math.random()}`;
  // Stamped in the socket's own listener: several frames of one TCP read are handled before any promise settles.
  const arrival = new Map<string, number>();
  const stamp = (data: Buffer): void => {
    const type = /"type":"(agent_started|agent_completed)"/.exec(data.toString('utf8'))?.[1];
    if (type !== undefined && !arrival.has(type)) arrival.set(type, performance.now());
  };
  ws.ws.on('message', stamp);
  const t0 = performance.now();
  ws.send({ type: 'user_message', id, text });
  const ack = (await ws.waitFor((m) => m.type === 'message_accepted' && m.replyTo === id)) as { runId: string };
  await ws.next((m) => m.type === 'agent_completed' && m.runId === ack.runId);
  ws.ws.off('message', stamp);
  ws.messages.length = 0;
  return {
    started: (arrival.get('agent_started') ?? NaN) - t0,
    completed: (arrival.get('agent_completed') ?? NaN) - t0,
  };
}

async function coldStart(): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentgate-bench-'));
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const t0 = performance.now();
    const child = spawn(process.execPath, ['dist/main.js'], {
      env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/health/live`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (performance.now() - t0 > 30_000) throw new Error('server did not start in 30 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    times.push(performance.now() - t0);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
  const nodeT0 = performance.now();
  await new Promise((r) => spawn(process.execPath, ['-e', '0']).once('exit', r));
  const bare = performance.now() - nodeT0;
  console.log(
    `cold start (node dist/main.js → /health/live 200, fresh DATA_DIR), 5 runs: median ${fmt(quantile(times, 0.5))}, min ${fmt(Math.min(...times))}, max ${fmt(Math.max(...times))}; bare \`node -e 0\` ${fmt(bare)} (${(quantile(times, 0.5) / bare).toFixed(1)}x)`,
  );
}

await latency();
await coldStart();
