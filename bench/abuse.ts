/**
 * Abuse while others work, on loopback:  npm run bench -- abuse [--n 50]  
 * The server runs as its own process (node dist/main.js, default limits: WS_MESSAGES_PER_SECOND=20,
 * WS_MESSAGE_BURST=100), the flooders in another (bench/flooders.ts), the well-behaved user here, so no side
 * borrows another's event loop.
 * 1. How many frames one flooding connection gets to send before the message limit closes it, and how fast.
 * 2. A well-behaved user's "calculate 12*7" latency (user_message → agent_completed), alone and then while four
 *    users flood and reconnect in a loop; p50/p90 and the ratio abused/alone, both measured in this run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { registerUser, TestSocket, wsUrl } from '../src/testing/index.js';
import { flood } from './flooders.js';

const nFlag = process.argv.indexOf('--n');
const n = nFlag >= 0 ? Number(process.argv[nFlag + 1]) : 50;
const quantile = (xs: number[], q: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;

async function startServer(): Promise<{ url: string; child: ChildProcess; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'agentgate-abuse-'));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const env = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    HANDSHAKES_PER_MINUTE: '100000',
    LOGIN_ATTEMPTS_PER_MINUTE: '1000',
    MAX_RUNS_PER_USER: '10',
  };
  const child = spawn(process.execPath, ['dist/main.js'], { env, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (
    const t0 = performance.now();
    !(await fetch(`${url}/health/live`).then(
      (r) => r.ok,
      () => false,
    ));
  ) {
    if (performance.now() - t0 > 30_000) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { url, child, dataDir };
}

async function latencies(ws: TestSocket, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = `q${i}-${Math.random()}`;
    const t0 = performance.now();
    ws.send({ type: 'user_message', id, text: 'calculate 12*7' });
    const ack = (await ws.waitFor((m) => m.type === 'message_accepted' && m.replyTo === id)) as { runId: string };
    await ws.next((m) => m.type === 'agent_completed' && m.runId === ack.runId);
    out.push(performance.now() - t0);
    ws.messages.length = 0;
  }
  return out;
}

const server = await startServer();
try {
  const abuser = await registerUser(server.url, 'abuser');
  const single = await flood(wsUrl(server.url), abuser.accessToken);
  console.log(
    `one flooding connection: ${single.sent} frames written in ${single.ms.toFixed(0)} ms until close ${single.code} "${single.reason}" (limit 20/s + burst 100)`,
  );

  const good = await registerUser(server.url, 'good');
  const ws = await TestSocket.open(wsUrl(server.url), { headers: { authorization: `Bearer ${good.accessToken}` } });
  await latencies(ws, 5); // warm-up
  const alone = await latencies(ws, n);

  const abusers = await Promise.all(Array.from({ length: 4 }, (_, i) => registerUser(server.url, `abuser${i}`)));
  const flooders = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/flooders.ts', wsUrl(server.url), ...abusers.map((a) => a.accessToken)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let cycles = 0;
  flooders.stdout.on('data', (chunk: Buffer) => (cycles += chunk.toString().split('\n').filter(Boolean).length));
  await new Promise((r) => setTimeout(r, 1_000)); // let the flood start
  const abused = await latencies(ws, n);
  flooders.kill('SIGTERM');
  await new Promise((r) => flooders.once('exit', r));
  ws.close();

  const a50 = quantile(alone, 0.5);
  const b50 = quantile(abused, 0.5);
  console.log(
    `well-behaved user, n=${n} runs each: alone p50 ${a50.toFixed(2)} ms p90 ${quantile(alone, 0.9).toFixed(2)} ms; ` +
      `under abuse (4 flooding users in another process, ${cycles} flood-and-close cycles) p50 ${b50.toFixed(2)} ms p90 ${quantile(abused, 0.9).toFixed(2)} ms; ` +
      `ratio p50 ${(b50 / a50).toFixed(2)}x`,
  );
} finally {
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
  rmSync(server.dataDir, { recursive: true, force: true });
}
