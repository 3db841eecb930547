/**
 * Cross-instance delivery on loopback.
 *   npm run bench -- scale [--n 200]
 * Needs PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL as in .ci/run). Starts two built instances
 * (dist/main.js) on one PostgreSQL database and one Redis prefix, and one user with a socket on each. Each of n
 * runs of "calculate 12*7" is sent on instance A's socket and executes on A; the time from user_message to
 * agent_completed is taken on both sockets: on A (local delivery) and on B (through Redis). Baselines in the same
 * run: a WebSocket ping→pong on A, and the same path on a single default instance (SQLite, in-memory bus).
 */
import { performance } from 'node:perf_hooks';
import { startCluster } from '../src/testing/cluster.js';
import { createTestApp, registerUser, TestSocket, wsUrl } from '../src/testing/index.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../src/testing/services.js';

const nFlag = process.argv.indexOf('--n');
const n = nFlag >= 0 ? Number(process.argv[nFlag + 1]) : 200;

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const fmt = (ms: number): string => `${ms.toFixed(2)} ms`;

/** Stamps the arrival of each run's agent_completed in the socket's own listener (before any promise settles). */
function completions(ws: TestSocket): Map<string, number> {
  const arrivals = new Map<string, number>();
  ws.ws.on('message', (data: Buffer) => {
    const text = data.toString('utf8');
    if (!text.includes('"agent_completed"')) return;
    const runId = /"runId":"([^"]+)"/.exec(text)?.[1];
    if (runId !== undefined) arrivals.set(runId, performance.now());
  });
  return arrivals;
}

async function runOnce(sender: TestSocket, i: number): Promise<{ runId: string; t0: number }> {
  const id = `m${i}`;
  const t0 = performance.now();
  sender.send({ type: 'user_message', id, text: 'calculate 12*7' });
  const ack = (await sender.waitFor((m) => m.type === 'message_accepted' && m.replyTo === id)) as { runId: string };
  await sender.next((m) => m.type === 'agent_completed' && m.runId === ack.runId);
  return { runId: ack.runId, t0 };
}

async function pingOnce(ws: TestSocket, i: number): Promise<number> {
  const t0 = performance.now();
  ws.send({ type: 'ping', id: `p${i}` });
  await ws.waitFor((m) => m.type === 'pong' && m.replyTo === `p${i}`);
  return performance.now() - t0;
}

async function singleInstance(): Promise<number[]> {
  const app = await createTestApp({ MAX_RUNS_PER_USER: '10' });
  try {
    const user = await registerUser(app.url, 'bench');
    const ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${user.accessToken}` } });
    const arrivals = completions(ws);
    const times: number[] = [];
    for (let i = 0; i < n + 5; i++) {
      const { runId, t0 } = await runOnce(ws, i);
      if (i >= 5) times.push(arrivals.get(runId)! - t0);
      ws.messages.length = 0;
    }
    ws.close();
    return times;
  } finally {
    await app.close();
  }
}

async function twoInstances(): Promise<{ ping: number[]; local: number[]; remote: number[]; hop: number[] }> {
  const cluster = await startCluster(2, { LOG_LEVEL: 'info', MAX_RUNS_PER_USER: '10' }, 'built');
  try {
    const [a, b] = cluster.instances;
    const user = await registerUser(a!.url, 'bench');
    const open = (url: string) =>
      TestSocket.open(wsUrl(url), { headers: { authorization: `Bearer ${user.accessToken}` } });
    const onA = await open(a!.url);
    const onB = await open(b!.url);
    const arrivalsA = completions(onA);
    const arrivalsB = completions(onB);
    const result = { ping: [] as number[], local: [] as number[], remote: [] as number[], hop: [] as number[] };
    for (let i = 0; i < n + 5; i++) {
      const ping = await pingOnce(onA, i);
      const { runId, t0 } = await runOnce(onA, i);
      await onB.next((m) => m.type === 'agent_completed' && m.runId === runId, 10_000);
      if (i >= 5) {
        result.ping.push(ping);
        result.local.push(arrivalsA.get(runId)! - t0);
        result.remote.push(arrivalsB.get(runId)! - t0);
        result.hop.push(arrivalsB.get(runId)! - arrivalsA.get(runId)!);
      }
      onA.messages.length = 0;
      onB.messages.length = 0;
    }
    onA.close();
    onB.close();
    return result;
  } finally {
    await cluster.close();
  }
}

if (TEST_DATABASE_URL === undefined || TEST_REDIS_URL === undefined) {
  console.log(
    'scale: skipped (set TEST_DATABASE_URL and TEST_REDIS_URL, e.g. postgres://postgres@127.0.0.1:5432/test and redis://127.0.0.1:6379)',
  );
} else {
  const single = await singleInstance();
  const { ping, local, remote, hop } = await twoInstances();
  const base = quantile(single, 0.5);
  console.log(`scale: n=${n} runs of "calculate 12*7", user_message → agent_completed, loopback, 2-core machine`);
  console.log(
    `  ws ping→pong (instance A)                 p50 ${fmt(quantile(ping, 0.5))}  p99 ${fmt(quantile(ping, 0.99))}`,
  );
  console.log(
    `  single instance (SQLite, memory bus)      p50 ${fmt(base)}  p99 ${fmt(quantile(single, 0.99))}  (1.00x)`,
  );
  for (const [label, xs] of [
    ['two instances, socket on A (run on A)  ', local],
    ['two instances, socket on B (via Redis) ', remote],
  ] as const) {
    console.log(
      `  ${label}   p50 ${fmt(quantile(xs, 0.5))}  p99 ${fmt(quantile(xs, 0.99))}  (${(quantile(xs, 0.5) / base).toFixed(2)}x single)`,
    );
  }
  console.log(
    `  extra hop B after A, same event           p50 ${fmt(quantile(hop, 0.5))}  p99 ${fmt(quantile(hop, 0.99))}`,
  );
}
