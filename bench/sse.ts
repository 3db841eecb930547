/**
 * Server-Sent Events versus the WebSocket, for the same run, in one process on loopback (SQLite).
 *   npm run bench -- sse [--n 5]
 * A run of 5,000 agent_message_delta is followed live, at the same time, by a WebSocket (open before the run) and
 * by `GET /runs/:id/stream` (opened right after the ack): events/s from the first event's arrival to the terminal
 * one's on each. The agent emits all its deltas at once, so this is how fast each transport drains one burst to a
 * reader that parses every event (client and server share the process, as in the other in-process benches). Then the finished run is read whole by each: a WebSocket
 * `resume {afterSeq: 0}` and an SSE stream from 0, in both formats (ours and AG-UI). Medians of n runs.
 */
import { performance } from 'node:perf_hooks';
import { createTestApp, registerUser, TestSocket, wsUrl } from '../src/testing/index.js';
import { BenchAgent } from './bench-agent.js';

const nFlag = process.argv.indexOf('--n');
const n = nFlag >= 0 ? Number(process.argv[nFlag + 1]) : 5;
const EVENTS = 5_000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const rate = (events: number, ms: number): string =>
  `${Math.round((events / ms) * 1000).toLocaleString('en-US')} events/s`;

/** Reads an SSE response to its end; returns how many `data:` events came and when the first and last arrived. */
async function readSse(url: string, token: string): Promise<{ events: number; first: number; last: number }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok || res.body === null) throw new Error(`stream answered ${res.status}`);
  const decoder = new TextDecoder();
  let events = 0;
  let first = NaN;
  let last = NaN;
  let tail = '';
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    const now = performance.now();
    tail += decoder.decode(chunk, { stream: true });
    const parts = tail.split('\n\n');
    tail = parts.pop() ?? '';
    for (const part of parts) {
      if (!part.includes('data: ')) continue;
      // Parsed as a client must (and as the WebSocket side parses every frame).
      JSON.parse(part.slice(part.indexOf('data: ') + 6));
      events += 1;
      if (Number.isNaN(first)) first = now;
      last = now;
    }
  }
  return { events, first, last };
}

const app = await createTestApp(
  { MAX_RUNS_PER_USER: '100', MAX_BUFFERED_BYTES: '1073741824' },
  { agent: new BenchAgent() },
);
try {
  const user = await registerUser(app.url, 'bench');
  const ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${user.accessToken}` } });
  const live = { ws: [] as number[], sse: [] as number[] };
  const replay = { ws: [] as number[], sse: [] as number[], agui: [] as number[] };
  const total = EVENTS + 2;
  for (let i = 0; i < n; i++) {
    // Live: both follow the same run while it is produced.
    const stamps: number[] = [];
    const stamp = (): void => void stamps.push(performance.now());
    ws.ws.on('message', stamp);
    ws.send({ type: 'user_message', id: `live${i}`, text: `flood ${EVENTS}` });
    const ack = (await ws.waitFor((m) => m.type === 'message_accepted' && m.replyTo === `live${i}`)) as {
      runId: string;
    };
    const sse = readSse(`${app.url}/runs/${ack.runId}/stream`, user.accessToken);
    await ws.next((m) => m.type === 'agent_completed' && m.runId === ack.runId, 60_000);
    ws.ws.off('message', stamp);
    const overSse = await sse;
    if (overSse.events !== total) throw new Error(`SSE got ${overSse.events} events, expected ${total}`);
    // The socket's stamps include the ack and message_added: the run's events are the last `total`.
    const runStamps = stamps.slice(-total);
    live.ws.push(runStamps.at(-1)! - runStamps[0]!);
    live.sse.push(overSse.last - overSse.first);
    ws.messages.length = 0;

    // Replay of the finished run, whole.
    let t0 = performance.now();
    ws.send({ type: 'resume', id: `r${i}`, runId: ack.runId, afterSeq: 0 });
    await ws.waitFor((m) => m.type === 'resumed' && m.replyTo === `r${i}`, 60_000);
    replay.ws.push(performance.now() - t0);
    ws.messages.length = 0;
    t0 = performance.now();
    const whole = await readSse(`${app.url}/runs/${ack.runId}/stream`, user.accessToken);
    replay.sse.push(performance.now() - t0);
    if (whole.events !== total) throw new Error(`SSE replay got ${whole.events} events`);
    t0 = performance.now();
    await readSse(`${app.url}/runs/${ack.runId}/stream?format=agui`, user.accessToken);
    replay.agui.push(performance.now() - t0);
  }
  ws.close();
  console.log(
    `sse: a run of ${total.toLocaleString('en-US')} events (${EVENTS} deltas), median of ${n}, one process, loopback, SQLite`,
  );
  console.log(`  live, same run, one burst: first → terminal event arrival`);
  console.log(
    `    WebSocket (open before the run)     ${median(live.ws).toFixed(1)} ms  ${rate(total, median(live.ws))}`,
  );
  console.log(
    `    SSE /runs/:id/stream (after the ack) ${median(live.sse).toFixed(1)} ms  ${rate(total, median(live.sse))}  (${(median(live.ws) / median(live.sse)).toFixed(2)}x the WebSocket's rate)`,
  );
  console.log(`  finished run, read whole`);
  console.log(
    `    WebSocket resume {afterSeq: 0}       ${median(replay.ws).toFixed(1)} ms  ${rate(total, median(replay.ws))}`,
  );
  console.log(
    `    SSE stream from 0                    ${median(replay.sse).toFixed(1)} ms  ${rate(total, median(replay.sse))}  (${(median(replay.ws) / median(replay.sse)).toFixed(2)}x)`,
  );
  console.log(
    `    SSE stream from 0, ?format=agui      ${median(replay.agui).toFixed(1)} ms  ${rate(total, median(replay.agui))}  (${(median(replay.ws) / median(replay.agui)).toFixed(2)}x)`,
  );
} finally {
  await app.close();
}
