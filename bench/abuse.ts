/**
 * Abuse while others work, on loopback:  npm run bench -- abuse [--n 50]
 * 1. How many frames one flooding connection gets to send before the message limit closes it (default limits:
 *    WS_MESSAGES_PER_SECOND=20, WS_MESSAGE_BURST=100), and how fast.
 * 2. A well-behaved user's "calculate 12*7" latency (user_message → agent_completed), alone and then while four
 *    abusers flood and reconnect in a loop; printed as p50/p90 and as the ratio abused/alone from this run.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { createTestApp, registerUser, TestSocket, wsUrl } from '../src/testing/index.js';

const nFlag = process.argv.indexOf('--n');
const n = nFlag >= 0 ? Number(process.argv[nFlag + 1]) : 50;
const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;

const app = await createTestApp({ WS_MESSAGES_PER_SECOND: '20', WS_MESSAGE_BURST: '100', MAX_RUNS_PER_USER: '10' });
const headers = (token: string) => ({ authorization: `Bearer ${token}` });

/** Floods pings until the server closes the socket; returns frames sent, time to close, close code/reason. */
async function flood(token: string): Promise<{ sent: number; ms: number; code: number; reason: string }> {
  const ws = new WebSocket(wsUrl(app.url), { headers: headers(token) });
  await new Promise((resolve, reject) => ws.once('message', resolve).once('error', reject));
  const t0 = performance.now();
  let sent = 0;
  let open = true;
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => {
      open = false;
      resolve({ code, reason: reason.toString() });
    }),
  );
  while (open && performance.now() - t0 < 10_000) {
    for (let i = 0; i < 50 && open; i++, sent++) ws.send('{"type":"ping"}');
    await new Promise((r) => setImmediate(r));
  }
  const { code, reason } = await closed;
  return { sent, ms: performance.now() - t0, code, reason };
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

try {
  const abuser = await registerUser(app.url, 'abuser');
  const single = await flood(abuser.accessToken);
  console.log(`one flooding connection: ${single.sent} frames written in ${single.ms.toFixed(0)} ms before close ${single.code} "${single.reason}"`);

  const good = await registerUser(app.url, 'good');
  const ws = await TestSocket.open(wsUrl(app.url), { headers: headers(good.accessToken) });
  await latencies(ws, 5); // warm-up (lazy calculator load)
  const alone = await latencies(ws, n);

  let stop = false;
  let floods = 0;
  const abusers = await Promise.all(Array.from({ length: 4 }, (_, i) => registerUser(app.url, `abuser${i}`)));
  const loops = abusers.map(async (a) => {
    while (!stop) {
      await flood(a.accessToken);
      floods += 1;
    }
  });
  const abused = await latencies(ws, n);
  stop = true;
  await Promise.all(loops);
  ws.close();

  const a50 = quantile(alone, 0.5);
  const b50 = quantile(abused, 0.5);
  console.log(`well-behaved user, n=${n} runs each: alone p50 ${a50.toFixed(2)} ms p90 ${quantile(alone, 0.9).toFixed(2)} ms; under abuse (4 flooders, ${floods} flood-and-close cycles) p50 ${b50.toFixed(2)} ms p90 ${quantile(abused, 0.9).toFixed(2)} ms; ratio p50 ${(b50 / a50).toFixed(2)}x`);
} finally {
  await app.close();
}
