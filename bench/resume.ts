/**
 * Resume, replay and join latency, on loopback (one process: server and client share the event loop; default SQLite
 * backend, persistence on).
 *   npm run bench -- resume [--n 100]
 * A custom agent produces the runs: `flood <k>` emits k agent_message_delta as fast as it can, `tick <everyMs> <maxMs>`
 * emits one every everyMs until cancelled (bounded by maxMs).
 * 1. Replay throughput: a finished run of 5,000 stored events, replayed from seq 0 on a fresh connection
 *    (resume sent → resumed received; every event arrives before resumed), median of 5, in events/s; the same over
 *    HTTP (GET /runs/:id/events?after=0, until the body is parsed). Baselines: a WebSocket ping→pong on the same
 *    connection, and the fixed cost of an empty tail (afterSeq = lastSeq) on both paths.
 * 2. Resume latency: resume → first replayed event and → resumed, for a finished run of 20 events and from the middle
 *    of the 5,000-event run (2,500 events), p50/p90 over n, as ratios to a ping→pong interleaved on the same connection.
 * 3. Join latency (issue 11: "the time from a new connection to the first live event of a running run"): while a run
 *    emits a delta every 10 ms, each of n/2 new connections (Bearer header) reads connection_established.activeRuns,
 *    sends resume {runId, afterSeq: lastSeq}, and stamps, from before `new WebSocket`: the upgrade, the
 *    connection_established, the first event of the run (replayed or live), resumed, and the first event after
 *    resumed (live). Baseline: connection_established itself, and an app ping→pong and a `ws` protocol ping on
 *    the new connection. The live event waits for the agent's next tick, on average half the 10 ms period.
 * The client parses every frame (as a real client must); arrival is stamped in the socket's own listener, before any
 * promise settles.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { textOf, type RunEvent, type ServerMessage } from '../src/protocol/index.js';
import { BenchAgent } from './bench-agent.js';
import { createTestApp, registerUser, wsUrl, type TestApp } from '../src/testing/index.js';

const nFlag = process.argv.indexOf('--n');
const n = nFlag >= 0 ? Number(process.argv[nFlag + 1]) : 100;
const joins = Math.max(10, Math.round(n / 2));
const LONG_RUN_EVENTS = 5_000;
const SHORT_RUN_EVENTS = 20;
const REPLAY_REPS = 5;
const TICK_MS = 10;
const TICK_MAX_MS = 20_000;

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const fmt = (ms: number): string => `${ms.toFixed(2)} ms`;
const rate = (events: number, ms: number): string =>
  `${Math.round((events / ms) * 1000).toLocaleString('en-US')} events/s`;
const p5090 = (xs: number[]): string => `p50 ${fmt(quantile(xs, 0.5))}  p90 ${fmt(quantile(xs, 0.9))}`;
const isRunEvent = (m: ServerMessage): m is RunEvent => 'seq' in m;

type Handler = (m: ServerMessage, t: number) => boolean;

/** A bare `ws` client: every message goes, with its arrival time, to the current handler (or is dropped). */
class Client {
  private handler: Handler | undefined;
  private counter = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const t = performance.now();
      const msg = JSON.parse(textOf(data)) as ServerMessage;
      if (this.handler?.(msg, t) === true) this.handler = undefined;
    });
  }

  /** Opens a socket; times are from just before `new WebSocket`. */
  static async connect(
    url: string,
    token: string,
  ): Promise<{
    client: Client;
    upgraded: number;
    established: number;
    hello: Extract<ServerMessage, { type: 'connection_established' }>;
  }> {
    const t0 = performance.now();
    const client = new Client(new WebSocket(url, { headers: { authorization: `Bearer ${token}` } }));
    let upgraded = NaN;
    client.ws.once('open', () => (upgraded = performance.now() - t0));
    const failed = new Promise<never>((_, reject) => client.ws.once('error', reject));
    let established = NaN;
    const hello = await Promise.race([
      failed,
      client.until(
        (m, t) => {
          if (m.type !== 'connection_established') return false;
          established = t - t0;
          return true;
        },
        undefined,
        5_000,
      ),
    ]);
    if (hello.type !== 'connection_established') throw new Error('unreachable');
    return { client, upgraded, established, hello };
  }

  /** Resolves with the first message `done` accepts; `send` goes out once the handler is in place. */
  until(done: Handler, send?: unknown, timeoutMs = 15_000): Promise<ServerMessage> {
    if (this.handler !== undefined) throw new Error('one exchange at a time');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.handler = undefined;
        reject(
          new Error(`timed out after ${timeoutMs} ms${send === undefined ? '' : ` answering ${JSON.stringify(send)}`}`),
        );
      }, timeoutMs);
      this.handler = (m, t) => {
        // A failed check inside `done` rejects this exchange instead of escaping from the socket's listener.
        let accepted: boolean;
        try {
          if (m.type === 'error') throw new Error(`server error: ${JSON.stringify(m)}`);
          accepted = done(m, t);
        } catch (err) {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
          return true;
        }
        if (!accepted) return false;
        clearTimeout(timer);
        resolve(m);
        return true;
      };
      if (send !== undefined) this.ws.send(JSON.stringify(send));
    });
  }

  nextId(prefix: string): string {
    return `${prefix}${++this.counter}`;
  }

  /** App-level ping → pong. */
  async ping(): Promise<number> {
    const id = this.nextId('p');
    const t0 = performance.now();
    let t1 = NaN;
    await this.until((m, t) => m.type === 'pong' && m.replyTo === id && ((t1 = t), true), { type: 'ping', id });
    return t1 - t0;
  }

  /** `ws` protocol ping frame → pong frame (answered by the ws library, not by the gateway). */
  wsPing(): Promise<number> {
    const t0 = performance.now();
    return new Promise((resolve) => {
      this.ws.once('pong', () => resolve(performance.now() - t0));
      this.ws.ping();
    });
  }

  /** Starts a run and waits for its terminal event; returns its id and how long it took. */
  async run(text: string, waitEnd = true): Promise<{ runId: string; ms: number }> {
    const id = this.nextId('m');
    const t0 = performance.now();
    // One handler for the whole exchange: the run's events can arrive in the same TCP read as the ack.
    let runId: string | undefined;
    await this.until(
      (m) => {
        if (m.type === 'message_accepted' && m.replyTo === id) runId = m.runId;
        return (
          runId !== undefined && (!waitEnd || (isRunEvent(m) && m.runId === runId && m.type === 'agent_completed'))
        );
      },
      { type: 'user_message', id, text },
      60_000,
    );
    return { runId: runId!, ms: performance.now() - t0 };
  }

  /** resume → first replayed event and → resumed, in ms from just before the send. */
  async resume(
    runId: string,
    afterSeq: number,
  ): Promise<{ first: number; resumed: number; count: number; lastSeq: number; finished: boolean }> {
    const id = this.nextId('r');
    let first = NaN;
    let resumedAt = NaN;
    let count = 0;
    const t0 = performance.now();
    const end = await this.until(
      (m, t) => {
        if (isRunEvent(m) && m.runId === runId) {
          if (count++ === 0) first = t;
          return false;
        }
        if (m.type !== 'resumed' || m.replyTo !== id) return false;
        resumedAt = t;
        return true;
      },
      { type: 'resume', id, runId, afterSeq },
    );
    if (end.type !== 'resumed') throw new Error('unreachable');
    return { first: first - t0, resumed: resumedAt - t0, count, lastSeq: end.lastSeq, finished: end.finished };
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise((resolve) => this.ws.once('close', resolve));
    this.ws.close();
    await closed;
  }
}

/** GET /runs/:id/events?after=N until the body is parsed. */
async function httpEvents(
  app: TestApp,
  token: string,
  runId: string,
  after: number,
): Promise<{ ms: number; count: number }> {
  const t0 = performance.now();
  const res = await fetch(`${app.url}/runs/${runId}/events?after=${after}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await res.json()) as { events: RunEvent[] };
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`GET /runs/${runId}/events: ${res.status}`);
  return { ms, count: body.events.length };
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
}

const app = await createTestApp(
  { MAX_RUNS_PER_USER: '10', MAX_CONNECTIONS_PER_USER: '1000' },
  { agent: new BenchAgent() },
);
const clients: Client[] = [];
let ticking: { sender: Client; runId: string } | undefined;
try {
  const user = await registerUser(app.url, 'bench');
  const token = user.accessToken;
  const url = wsUrl(app.url);
  const open = async (): Promise<Client> => {
    const { client } = await Client.connect(url, token);
    clients.push(client);
    return client;
  };

  const sender = await open();
  await sender.run('flood 10'); // warm-up
  const long = await sender.run(`flood ${LONG_RUN_EVENTS - 2}`);
  const short = await sender.run(`flood ${SHORT_RUN_EVENTS - 2}`);

  // 1. Replay throughput.
  const replay = {
    ping: [] as number[],
    ws: [] as number[],
    http: [] as number[],
    wsEmpty: [] as number[],
    httpEmpty: [] as number[],
  };
  for (let i = 0; i <= REPLAY_REPS; i++) {
    const c = await open();
    const ping = await c.ping();
    // The small exchanges go first, and a pause follows each big one: right after a 5,000-frame replay, a request
    // pays for its garbage (an empty tail measured then takes ~7 ms instead of ~0.5 ms).
    const empty = await c.resume(long.runId, LONG_RUN_EVENTS);
    check(empty.count === 0, 'empty tail');
    const hEmpty = await httpEvents(app, token, long.runId, LONG_RUN_EVENTS);
    const r = await c.resume(long.runId, 0);
    check(
      r.count === LONG_RUN_EVENTS && r.lastSeq === LONG_RUN_EVENTS && r.finished,
      `replay of ${LONG_RUN_EVENTS} events (got ${r.count}, lastSeq ${r.lastSeq})`,
    );
    await delay(100);
    const h = await httpEvents(app, token, long.runId, 0);
    check(h.count === LONG_RUN_EVENTS, `HTTP events (got ${h.count})`);
    await delay(100);
    await c.close();
    if (i === 0) continue; // warm-up
    replay.ping.push(ping);
    replay.ws.push(r.resumed);
    replay.wsEmpty.push(empty.resumed);
    replay.http.push(h.ms);
    replay.httpEmpty.push(hEmpty.ms);
  }

  // 2. Resume latency.
  const lat = {
    ping: [] as number[],
    shortFirst: [] as number[],
    shortEnd: [] as number[],
    midFirst: [] as number[],
    midEnd: [] as number[],
  };
  const half = LONG_RUN_EVENTS / 2;
  {
    const c = await open();
    for (let i = 0; i < n + 5; i++) {
      const ping = await c.ping();
      const s = await c.resume(short.runId, 0);
      const m = await c.resume(long.runId, half);
      check(s.count === SHORT_RUN_EVENTS && m.count === LONG_RUN_EVENTS - half, 'resume counts');
      if (i < 5) continue; // warm-up
      lat.ping.push(ping);
      lat.shortFirst.push(s.first);
      lat.shortEnd.push(s.resumed);
      lat.midFirst.push(m.first);
      lat.midEnd.push(m.resumed);
    }
    await c.close();
  }

  // 3. Join latency against a running run.
  const tick = await sender.run(`tick ${TICK_MS} ${TICK_MAX_MS}`, false);
  ticking = { sender, runId: tick.runId };
  await sender.until((m) => isRunEvent(m) && m.runId === tick.runId && m.seq >= 5);
  const join = {
    upgraded: [] as number[],
    established: [] as number[],
    first: [] as number[],
    resumed: [] as number[],
    live: [] as number[],
    wait: [] as number[],
    age: [] as number[],
    ping: [] as number[],
    wsPing: [] as number[],
    replayed: [] as number[],
  };
  for (let i = 0; i < joins + 5; i++) {
    // A random phase against the agent's ticks: otherwise the loop locks onto them and biases (c).
    await delay(Math.random() * TICK_MS);
    const t0 = performance.now();
    const { client: c, upgraded, established, hello } = await Client.connect(url, token);
    const active = hello.activeRuns.find((r) => r.runId === tick.runId);
    check(active !== undefined && active.lastSeq > 0, 'activeRuns lists the running run');
    const afterSeq = active!.lastSeq;
    const id = c.nextId('r');
    let first = NaN;
    let resumedAt = NaN;
    let lastSeq = NaN;
    let replayed = 0;
    let live: RunEvent | undefined;
    let liveAt = NaN;
    await c.until(
      (m, t) => {
        if (isRunEvent(m) && m.runId === tick.runId) {
          if (Number.isNaN(first)) first = t;
          if (Number.isNaN(resumedAt)) {
            replayed++;
            return false;
          }
          check(m.seq === lastSeq + 1, `live seq ${m.seq} follows resumed.lastSeq ${lastSeq}`);
          live = m;
          liveAt = t;
          return true;
        }
        if (m.type === 'resumed' && m.replyTo === id) {
          check(!m.finished, 'tick run still running');
          resumedAt = t;
          lastSeq = m.lastSeq;
        }
        return false;
      },
      { type: 'resume', id, runId: tick.runId, afterSeq },
    );
    const ping = await c.ping();
    const wsPing = await c.wsPing();
    await c.close();
    if (i < 5) continue; // warm-up
    join.upgraded.push(upgraded);
    join.established.push(established);
    join.first.push(first - t0);
    join.resumed.push(resumedAt - t0);
    join.live.push(liveAt - t0);
    join.wait.push(liveAt - resumedAt);
    join.age.push(performance.timeOrigin + liveAt - Date.parse(live!.ts));
    join.ping.push(ping);
    join.wsPing.push(wsPing);
    join.replayed.push(replayed);
  }
  const cancelId = sender.nextId('c');
  await sender.until((m) => isRunEvent(m) && m.runId === tick.runId && m.type === 'run_cancelled', {
    type: 'cancel_run',
    id: cancelId,
    runId: tick.runId,
  });
  ticking = undefined;

  // Report.
  const row = (label: string, rest: string): void => console.log(`     ${label.padEnd(44)}${rest}`);
  const wsMed = quantile(replay.ws, 0.5);
  const httpMed = quantile(replay.http, 0.5);
  const pingMed = quantile(replay.ping, 0.5);
  console.log(
    `resume: loopback, one process (SQLite, persistence on); producing the ${LONG_RUN_EVENTS}-event run took ${fmt(long.ms)} (${rate(LONG_RUN_EVENTS, long.ms)} stored and delivered)`,
  );
  console.log(
    `  1. replay of a finished ${LONG_RUN_EVENTS}-event run from seq 0, fresh connection each time, median of ${REPLAY_REPS}`,
  );
  row('ws ping→pong (same connection)', fmt(pingMed));
  row('ws resume → resumed', `${fmt(wsMed)}  ${rate(LONG_RUN_EVENTS, wsMed)}  (${(wsMed / pingMed).toFixed(0)}x ping)`);
  row(`ws resume, empty tail (afterSeq ${LONG_RUN_EVENTS})`, fmt(quantile(replay.wsEmpty, 0.5)));
  row(
    'GET /runs/:id/events?after=0 (body parsed)',
    `${fmt(httpMed)}  ${rate(LONG_RUN_EVENTS, httpMed)}  (${(httpMed / wsMed).toFixed(2)}x ws)`,
  );
  row(`GET …?after=${LONG_RUN_EVENTS}, empty tail`, fmt(quantile(replay.httpEmpty, 0.5)));
  const lp = quantile(lat.ping, 0.5);
  const ratio = (xs: number[]): string => `(${(quantile(xs, 0.5) / lp).toFixed(1)}x ping)`;
  console.log(`  2. resume latency, n=${n} on one connection, interleaved`);
  row('ws ping→pong', p5090(lat.ping));
  row(`${SHORT_RUN_EVENTS}-event run, afterSeq 0 → 1st event`, `${p5090(lat.shortFirst)}  ${ratio(lat.shortFirst)}`);
  row('                         → resumed', `${p5090(lat.shortEnd)}  ${ratio(lat.shortEnd)}`);
  row(`${LONG_RUN_EVENTS}-event run, afterSeq ${half} → 1st event`, `${p5090(lat.midFirst)}  ${ratio(lat.midFirst)}`);
  row(
    '                         → resumed',
    `${p5090(lat.midEnd)}  ${ratio(lat.midEnd)}  ${rate(LONG_RUN_EVENTS - half, quantile(lat.midEnd, 0.5))}`,
  );
  const est = quantile(join.established, 0.5);
  const jr = (xs: number[]): string => `(${(quantile(xs, 0.5) / est).toFixed(2)}x established)`;
  console.log(
    `  3. join a running run (delta every ${TICK_MS} ms), n=${joins} new connections, from before \`new WebSocket\``,
  );
  row("upgrade done (ws 'open')", p5090(join.upgraded));
  row('(a) connection_established [baseline]', p5090(join.established));
  row(
    '(b) first event of the run',
    `${p5090(join.first)}  ${jr(join.first)}  (replayed before resumed: p50 ${quantile(join.replayed, 0.5)}, max ${Math.max(...join.replayed)})`,
  );
  row('    resumed', `${p5090(join.resumed)}  ${jr(join.resumed)}`);
  row('(c) first live event (after resumed)', `${p5090(join.live)}  ${jr(join.live)}`);
  row('    of which waiting after resumed', `${p5090(join.wait)}  (agent period ${TICK_MS} ms)`);
  row('    live event age at arrival (vs its ts)', `${p5090(join.age)}  (ts has 1 ms resolution)`);
  row('app ping→pong on the new connection', p5090(join.ping));
  row('ws protocol ping on the new connection', p5090(join.wsPing));
} finally {
  if (ticking !== undefined) {
    const { sender, runId } = ticking;
    try {
      await sender.until(
        (m) => isRunEvent(m) && m.runId === runId && m.type === 'run_cancelled',
        { type: 'cancel_run', runId },
        5_000,
      );
    } catch {
      // best effort: closing the app stops the run anyway
    }
  }
  await Promise.all(clients.map((c) => c.close()));
  await app.close();
}
