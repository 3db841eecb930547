import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  isTerminalEvent,
  textOf,
  verifyRunEvents,
  type RunEvent,
  type ServerMessage,
} from '../../src/protocol/index.js';
import { registerUser, request, wsUrl, type TestApp } from '../../src/testing/index.js';
import { commonScripts, range, seqs, useScriptedApp, type Script, type User } from './helpers/runs.js';

/**
 * The disconnect/reconnect race under load: 5 users start 10 runs each (50 runs, 3 threads per user, so runs also
 * queue behind each other) while their sockets are killed at random points, 3–6 times per user: at random moments,
 * right after sending a user_message (before its ack), and right after sending `resume` (before `resumed`). After
 * each kill the client reconnects (Bearer header), resumes every run it knows of that has not finished (its own
 * state plus `connection_established.activeRuns`) from the last seq it holds, and re-sends unacknowledged
 * user_messages with the same id. It merges replayed and live events by seq and never drops one on purpose: a seq
 * past last+1 is a gap, which fails the test. In the end every user's reconstruction of every run equals the stored
 * log exactly.
 *
 * One connection must never deliver a seq of a run twice. The one exception is documented (PROTOCOL.md, resume
 * semantics: "a replay sends everything after afterSeq, even events this connection already received live"): when
 * the client's own resume asks for seqs this connection had already sent but the client had not read yet (a queued
 * run listed in activeRuns that starts before the resume is handled, or a run acknowledged on a re-send that started
 * live here). Those are counted and printed as "asked for by an overlapping resume"; any other repeat fails the test.
 *
 * Randomness (timings, kill points and kinds, run lengths) comes from one seed, printed by the test; rerun with
 * RACE_SEED=<seed> to replay the same plan (thread scheduling still varies).
 */

const USERS = 5;
const RUNS_PER_USER = 10;
const THREADS_PER_USER = 3;
const PHASE_TIMEOUT_MS = 30_000;

const SEED = process.env.RACE_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.RACE_SEED);

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `script:race <deltas> <seed>`: that many deltas "r1 ".."rn " with a 0–5 ms await after each, and one `wait`
 * tool call (5–35 ms) at a point chosen by the seed. Honours the signal.
 */
const race: Script = async (req, io) => {
  const [, n = '50', seed = '1'] = req.text.split(/\s+/);
  const rnd = prng(Number(seed));
  const deltas = Number(n);
  const toolAt = 1 + Math.floor(rnd() * deltas);
  let text = '';
  for (let i = 1; i <= deltas; i++) {
    req.signal.throwIfAborted();
    if (i === toolAt) {
      const outcome = await io.callTool('wait', { seconds: Math.round(5 + rnd() * 30) / 1000 });
      if (!outcome.ok) throw new Error(`wait tool failed: ${outcome.error.code}`);
    }
    const piece = `r${i} `;
    io.delta(piece);
    text += piece;
    await delay(Math.floor(rnd() * 6), undefined, { signal: req.signal });
  }
  return { text };
};

const server = useScriptedApp(
  { MAX_RUNS_PER_USER: '100', MAX_CONNECTIONS_PER_USER: '100' },
  { ...commonScripts, race },
);

type KillKind = 'timer' | 'afterSend' | 'afterResume';
type KillMode = 'terminate' | 'close';
/** Why a connection resumed a run: listed in activeRuns (queued, lastSeq 0, or under way), known only to the client, or a repeat ack. */
type ResumeReason = 'listedQueued' | 'listedRunning' | 'knownOnly' | 'repeatAck';

interface RunState {
  readonly runId: string;
  threadId: string | undefined;
  /** The reconstructed stream: seqs 1..events.length, contiguous by construction. */
  readonly events: RunEvent[];
  terminal: boolean;
}

interface MessageState {
  readonly id: string;
  readonly index: number;
  readonly text: string;
  readonly deltas: number;
  threadId: string | undefined;
  /** Connection numbers this message was sent on (first send, then re-sends after reconnects). */
  readonly sentOn: number[];
  ack: { threadId: string; runId: string } | undefined;
}

interface Conn {
  readonly no: number;
  readonly ws: WebSocket;
  established: boolean;
  /** Messages received so far on this connection (the next message's index). */
  received: number;
  /** `${runId}#${seq}` → index of the message that first delivered it on this connection. */
  readonly firstAt: Map<string, number>;
  /** Runs of which this connection delivered at least one event. */
  readonly eventRuns: Set<string>;
  /** The runs listed in this connection's connection_established.activeRuns, with their lastSeq. */
  readonly listedSeq: Map<string, number>;
  /** resume sent on this connection, per run (at most one each): afterSeq, when it was sent, whether resumed came. */
  readonly resumes: Map<string, { afterSeq: number; sentAt: number; done: boolean; why: ResumeReason }>;
  onEstablished: (() => void) | undefined;
}

interface Stats {
  kills: number;
  killsByKind: Record<KillKind, number>;
  killsByMode: Record<KillMode, number>;
  /** Kills that happened while at least one of the client's runs had not finished. */
  killsMidRun: number;
  /** Kills right after a resume was sent, before its `resumed` arrived. */
  killsBeforeResumed: number;
  connections: number;
  resumesSent: number;
  resumedUnfinished: number;
  resends: number;
  unexpectedCloses: number;
  /** Duplicates across connections (replay overlapping what an earlier connection delivered), ignored by merge. */
  crossConnectionRepeats: number;
  /** Same seq twice on one connection, because this connection's own resume asked for it (afterSeq below it). */
  requestedDuplicates: number;
  /** The same, by the reason of the resume that asked for them. */
  requestedDuplicatesBy: Record<ResumeReason, number>;
  /** Same seq twice on one connection without such a resume: a server bug. */
  unrequestedDuplicates: number;
}

class RaceClient {
  readonly runs = new Map<string, RunState>();
  readonly messages: MessageState[] = [];
  readonly failures: string[] = [];
  /** Every runId and threadId that appeared in any message on this client's sockets. */
  readonly seenRunIds = new Set<string>();
  readonly seenThreadIds = new Set<string>();
  readonly conns: Conn[] = [];
  readonly stats: Stats = {
    kills: 0,
    killsByKind: { timer: 0, afterSend: 0, afterResume: 0 },
    killsByMode: { terminate: 0, close: 0 },
    killsMidRun: 0,
    killsBeforeResumed: 0,
    connections: 0,
    resumesSent: 0,
    resumedUnfinished: 0,
    resends: 0,
    unexpectedCloses: 0,
    crossConnectionRepeats: 0,
    requestedDuplicates: 0,
    requestedDuplicatesBy: { listedQueued: 0, listedRunning: 0, knownOnly: 0, repeatAck: 0 },
    unrequestedDuplicates: 0,
  };
  private conn: Conn | undefined;
  private connecting: Promise<Conn> | undefined;
  private stopped = false;
  private armedAfterSend = false;
  private armedAfterResume = false;
  private readonly rnd: () => number;

  constructor(
    private readonly app: TestApp,
    readonly user: User,
    readonly name: string,
    seed: number,
    private readonly abort: { failed: boolean },
  ) {
    this.rnd = prng(seed);
    for (let i = 0; i < RUNS_PER_USER; i++) {
      const deltas = 40 + Math.floor(this.rnd() * 41);
      const agentSeed = 1 + Math.floor(this.rnd() * 1e9);
      this.messages.push({
        id: `${name}-m${i}`,
        index: i,
        text: `script:race ${deltas} ${agentSeed}`,
        deltas,
        threadId: undefined,
        sentOn: [],
        ack: undefined,
      });
    }
  }

  private between(min: number, max: number): number {
    return min + Math.floor(this.rnd() * (max - min + 1));
  }

  private fail(problem: string): void {
    this.failures.push(`[seed ${SEED}] ${this.name}: ${problem}`);
    this.abort.failed = true;
  }

  /** Waits (bounded) until `check` holds; returns early, without throwing, once any client recorded a failure. */
  private async until(check: () => boolean, what: string, timeoutMs = PHASE_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (this.abort.failed) return;
      if (Date.now() > deadline)
        throw new Error(`[seed ${SEED}] ${this.name}: timed out waiting for ${what}; ${this.describeState()}`);
      await delay(5);
    }
  }

  describeState(): string {
    const runs = [...this.runs.values()].map(
      (r) => `${r.runId.slice(0, 8)}:${r.events.length}${r.terminal ? '(done)' : ''}`,
    );
    const unacked = this.messages
      .filter((m) => m.ack === undefined)
      .map((m) => `${m.id} sent on ${JSON.stringify(m.sentOn)}`);
    return `runs ${runs.join(' ')}; unacked [${unacked.join(', ')}]; connection ${this.conn?.no ?? 'none'}`;
  }

  private allFinished(): boolean {
    return this.messages.every((m) => m.ack !== undefined && this.runs.get(m.ack.runId)?.terminal === true);
  }

  /** The whole client: connect, send the runs, suffer its kill plan, and wait until every run is complete. */
  async play(): Promise<void> {
    await this.ensureConnected();
    await Promise.all([this.sendAll(), this.killAll()]);
    await this.until(() => this.allFinished(), 'every run to finish');
    this.stopped = true;
    this.conn?.ws.close();
  }

  /** Sends the messages over time: the first THREADS_PER_USER open threads, the rest queue on them (enqueue). */
  private async sendAll(): Promise<void> {
    for (const m of this.messages) {
      await delay(this.between(20, 160));
      if (this.abort.failed) return;
      if (m.index >= THREADS_PER_USER) {
        const first = this.messages[m.index % THREADS_PER_USER];
        await this.until(() => first?.ack !== undefined, `the ack of ${first?.id}`);
        m.threadId = first?.ack?.threadId;
      }
      const conn = await this.current();
      this.sendMessage(conn, m);
      if (this.armedAfterSend) {
        this.armedAfterSend = false;
        this.kill(conn, 'afterSend');
      }
    }
    await this.until(() => this.messages.every((m) => m.ack !== undefined), 'every message to be acknowledged');
  }

  /** 3–6 kills: one right after resume (preceded by the kill that forces the reconnect), one right after a send, then timers. */
  private async killAll(): Promise<void> {
    const total = this.between(3, 6);
    const episodes: KillKind[] = [];
    for (let k = 3; k < total; k++) episodes.push('timer');
    // The send and resume kills come early (among the first three), while messages are still being sent and runs going.
    episodes.splice(this.between(0, Math.min(1, episodes.length)), 0, 'afterSend');
    episodes.splice(this.between(0, 1), 0, 'afterResume');

    for (const kind of episodes) {
      await delay(this.between(40, 300));
      if (kind === 'afterResume') {
        // Only worth it once there is a run to resume.
        await this.until(
          () => [...this.runs.values()].some((r) => !r.terminal) || this.allFinished(),
          'a run in progress',
        );
      }
      if (this.abort.failed) return;
      const conn = await this.current();
      if (kind === 'timer') {
        this.kill(conn, 'timer');
      } else if (kind === 'afterResume') {
        // This kill forces a reconnect; the next connection kills itself right after sending its resumes.
        this.armedAfterResume = true;
        this.kill(conn, 'timer');
        await this.until(() => !this.armedAfterResume, 'the kill after resume');
      } else {
        this.armedAfterSend = true;
        const deadline = Date.now() + 400;
        await this.until(() => !this.armedAfterSend || Date.now() > deadline, 'the kill after send');
        if (this.armedAfterSend) {
          // Nothing left to send: a plain kill instead.
          this.armedAfterSend = false;
          this.kill(await this.current(), 'timer');
        }
      }
    }
  }

  private kill(conn: Conn, kind: KillKind): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    const mode: KillMode = this.rnd() < 0.75 ? 'terminate' : 'close';
    this.stats.kills += 1;
    this.stats.killsByKind[kind] += 1;
    this.stats.killsByMode[mode] += 1;
    if (!this.allFinished()) this.stats.killsMidRun += 1;
    if ([...conn.resumes.values()].some((r) => !r.done)) this.stats.killsBeforeResumed += 1;
    if (mode === 'terminate') conn.ws.terminate();
    else {
      conn.ws.close();
      // A server that does not answer the close frame must not keep this socket around.
      setTimeout(() => conn.ws.terminate(), 1_000).unref();
    }
    const pause = this.between(0, 20);
    setTimeout(
      () => void this.ensureConnected().catch((err: unknown) => this.fail(`reconnect failed: ${String(err)}`)),
      pause,
    ).unref();
  }

  /** The connection in use once it is established (not one that was killed as soon as it was). */
  private async current(): Promise<Conn> {
    for (;;) {
      const conn = await this.ensureConnected();
      if (this.conn === conn) return conn;
      await delay(1);
    }
  }

  private ensureConnected(): Promise<Conn> {
    if (this.conn !== undefined) return Promise.resolve(this.conn);
    this.connecting ??= this.connectWithRetries().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connectWithRetries(): Promise<Conn> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        return await this.openOnce();
      } catch (err) {
        lastError = err;
        await delay(this.between(20, 80));
      }
    }
    throw new Error(`${this.name} could not reconnect: ${String(lastError)}`);
  }

  private openOnce(): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl(this.app.url), { headers: { authorization: `Bearer ${this.user.accessToken}` } });
      const conn: Conn = {
        no: this.conns.length + 1,
        ws,
        established: false,
        received: 0,
        firstAt: new Map(),
        eventRuns: new Set(),
        listedSeq: new Map(),
        resumes: new Map(),
        onEstablished: undefined,
      };
      this.conns.push(conn);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`connection ${conn.no}: no connection_established within 5 s`));
      }, 5_000);
      conn.onEstablished = () => {
        clearTimeout(timer);
        resolve(conn);
      };
      ws.on('unexpected-response', (req, res) => {
        clearTimeout(timer);
        req.destroy();
        reject(new Error(`connection ${conn.no}: upgrade refused with ${res.statusCode}`));
      });
      ws.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      ws.on('message', (data) => this.onMessage(conn, JSON.parse(textOf(data)) as ServerMessage));
      ws.on('close', () => {
        if (this.conn !== conn) return;
        // Not a kill of ours: the server (or the network) closed it. Reconnect and resume like any client.
        this.conn = undefined;
        if (this.stopped) return;
        this.stats.unexpectedCloses += 1;
        void this.ensureConnected().catch((err: unknown) => this.fail(`reconnect failed: ${String(err)}`));
      });
    });
  }

  private sendMessage(conn: Conn, m: MessageState): void {
    if (m.sentOn.length > 0) this.stats.resends += 1;
    m.sentOn.push(conn.no);
    conn.ws.send(
      JSON.stringify({
        type: 'user_message',
        id: m.id,
        text: m.text,
        ...(m.threadId === undefined ? {} : { threadId: m.threadId }),
      }),
    );
  }

  private sendResume(conn: Conn, run: RunState, why: ResumeReason): void {
    const afterSeq = run.events.length;
    conn.resumes.set(run.runId, { afterSeq, sentAt: conn.received, done: false, why });
    this.stats.resumesSent += 1;
    conn.ws.send(JSON.stringify({ type: 'resume', id: `c${conn.no}-${run.runId}`, runId: run.runId, afterSeq }));
  }

  private learn(runId: string, threadId: string | undefined): RunState {
    let run = this.runs.get(runId);
    if (run === undefined) {
      run = { runId, threadId, events: [], terminal: false };
      this.runs.set(runId, run);
    }
    if (threadId !== undefined) {
      if (run.threadId !== undefined && run.threadId !== threadId)
        this.fail(`run ${runId} seen in thread ${run.threadId} and ${threadId}`);
      run.threadId = threadId;
    }
    return run;
  }

  private onMessage(conn: Conn, msg: ServerMessage): void {
    const index = conn.received++;
    if ('runId' in msg) this.seenRunIds.add(msg.runId);
    if ('threadId' in msg) this.seenThreadIds.add(msg.threadId);
    if (msg.type === 'connection_established') {
      for (const r of msg.activeRuns) {
        this.seenRunIds.add(r.runId);
        this.seenThreadIds.add(r.threadId);
      }
    }
    if (index === 0 && msg.type !== 'connection_established')
      this.fail(`connection ${conn.no}: first message is ${msg.type}`);
    if ('seq' in msg) return this.onRunEvent(conn, msg, index);
    switch (msg.type) {
      case 'connection_established':
        return this.onEstablished(conn, msg);
      case 'message_accepted': {
        const m = this.messages.find((x) => x.id === msg.replyTo);
        if (m === undefined)
          return this.fail(`connection ${conn.no}: ack for an unknown message ${String(msg.replyTo)}`);
        if (m.ack !== undefined && (m.ack.runId !== msg.runId || m.ack.threadId !== msg.threadId)) {
          return this.fail(
            `${m.id} acknowledged twice with different runs: ${JSON.stringify(m.ack)} then ${JSON.stringify(msg)}`,
          );
        }
        m.ack = { threadId: msg.threadId, runId: msg.runId };
        const run = this.learn(msg.runId, msg.threadId);
        // A repeat ack for a message first sent on an earlier connection: its run may have started before this
        // connection opened and ended since (so it was not listed), and this connection does not follow it.
        const firstSentHere = m.sentOn[0] === conn.no;
        if (
          !firstSentHere &&
          !run.terminal &&
          !conn.resumes.has(run.runId) &&
          !conn.eventRuns.has(run.runId) &&
          conn.ws.readyState === WebSocket.OPEN
        ) {
          this.sendResume(conn, run, 'repeatAck');
        }
        return;
      }
      case 'message_added':
        this.learn(msg.runId, msg.threadId);
        return;
      case 'resumed': {
        const resume = conn.resumes.get(msg.runId);
        if (resume === undefined)
          return this.fail(`connection ${conn.no}: resumed for ${msg.runId}, which it never resumed`);
        resume.done = true;
        const run = this.learn(msg.runId, undefined);
        if (!msg.finished) this.stats.resumedUnfinished += 1;
        if (run.events.length < msg.lastSeq)
          this.fail(
            `connection ${conn.no}: resumed ${msg.runId} at lastSeq ${msg.lastSeq} but the client holds only 1..${run.events.length}`,
          );
        if (msg.finished && !run.terminal)
          this.fail(
            `connection ${conn.no}: resumed ${msg.runId} finished at lastSeq ${msg.lastSeq} but no terminal event was replayed (client holds 1..${run.events.length})`,
          );
        return;
      }
      case 'error':
        return this.fail(`connection ${conn.no}: error ${JSON.stringify(msg)}`);
      default:
        return;
    }
  }

  private onEstablished(conn: Conn, msg: Extract<ServerMessage, { type: 'connection_established' }>): void {
    if (msg.userId !== this.user.user.id) this.fail(`connection ${conn.no}: established for user ${msg.userId}`);
    conn.established = true;
    this.stats.connections += 1;
    if (this.stopped) return conn.onEstablished?.();
    this.conn = conn;
    for (const r of msg.activeRuns) {
      conn.listedSeq.set(r.runId, r.lastSeq);
      this.learn(r.runId, r.threadId);
    }
    // Resume every run known (from our state or the server's list) that has not finished, from what we hold.
    let resumed = 0;
    for (const run of this.runs.values()) {
      if (run.terminal) continue;
      const listed = conn.listedSeq.get(run.runId);
      this.sendResume(conn, run, listed === undefined ? 'knownOnly' : listed === 0 ? 'listedQueued' : 'listedRunning');
      resumed += 1;
    }
    // Re-send what was sent earlier but never acknowledged (same id: the server answers the first ack).
    for (const m of this.messages) if (m.ack === undefined && m.sentOn.length > 0) this.sendMessage(conn, m);
    conn.onEstablished?.();
    if (this.armedAfterResume) {
      this.armedAfterResume = false;
      // Before `resumed`: at once (the frames may not even leave), or a moment later (mid-replay). With nothing to
      // resume it is a plain kill.
      const kind: KillKind = resumed > 0 ? 'afterResume' : 'timer';
      if (this.rnd() < 0.4) this.kill(conn, kind);
      else setTimeout(() => this.kill(conn, kind), this.between(0, 4)).unref();
    }
  }

  private onRunEvent(conn: Conn, event: RunEvent, index: number): void {
    const run = this.learn(event.runId, event.threadId);
    conn.eventRuns.add(event.runId);
    // One connection, one seq once: unless this connection's own resume asked again for a seq it had already
    // delivered (afterSeq below it, the first copy arriving after the resume was sent, the replay not over yet).
    const key = `${event.runId}#${event.seq}`;
    const first = conn.firstAt.get(key);
    if (first === undefined) conn.firstAt.set(key, index);
    else {
      const resume = conn.resumes.get(event.runId);
      const requested = resume !== undefined && !resume.done && resume.afterSeq < event.seq && first >= resume.sentAt;
      if (requested) {
        this.stats.requestedDuplicates += 1;
        this.stats.requestedDuplicatesBy[resume.why] += 1;
      } else {
        this.stats.unrequestedDuplicates += 1;
        this.fail(
          `connection ${conn.no} delivered ${event.type} seq ${event.seq} of run ${event.runId} twice (messages #${first} and #${index}); its resume: ${JSON.stringify(resume)}`,
        );
      }
    }
    // Merge: append seq last+1, ignore seq <= last, and a gap is a bug.
    const last = run.events.length;
    if (event.seq <= last) {
      if (first === undefined) this.stats.crossConnectionRepeats += 1;
      const held = run.events[event.seq - 1];
      if (held !== undefined && !isDeepStrictEqual(held, event))
        this.fail(
          `seq ${event.seq} of run ${event.runId} differs: ${JSON.stringify(held)} vs ${JSON.stringify(event)}`,
        );
      return;
    }
    if (event.seq > last + 1) {
      return this.fail(
        `GAP: connection ${conn.no} delivered ${event.type} seq ${event.seq} of run ${event.runId} while the client holds 1..${last}` +
          ` (listed on this connection at lastSeq: ${conn.listedSeq.get(event.runId) ?? 'no'}, its resume: ${JSON.stringify(conn.resumes.get(event.runId))})`,
      );
    }
    if (run.terminal) return this.fail(`${event.type} seq ${event.seq} of run ${event.runId} after its terminal event`);
    run.events.push(event);
    if (isTerminalEvent(event)) run.terminal = true;
  }

  /** Closes whatever is still open (end of the test, or a failure). */
  shutdown(): void {
    this.stopped = true;
    for (const c of this.conns) if (c.ws.readyState !== WebSocket.CLOSED) c.ws.terminate();
  }
}

interface StoredRun {
  id: string;
  status: string;
  lastSeq: number;
}

async function listRuns(app: TestApp, user: User): Promise<{ threads: string[]; runs: StoredRun[] }> {
  const threads = await request<{ threads: Array<{ id: string }> }>(app.url, 'GET', '/threads', {
    token: user.accessToken,
  });
  expect(threads.status).toBe(200);
  const runs: StoredRun[] = [];
  for (const t of threads.body.threads) {
    const res = await request<{ thread: { runs: StoredRun[] } }>(app.url, 'GET', `/threads/${t.id}`, {
      token: user.accessToken,
    });
    expect(res.status).toBe(200);
    runs.push(...res.body.thread.runs);
  }
  return { threads: threads.body.threads.map((t) => t.id), runs };
}

describe('runs: the disconnect/reconnect race under load', () => {
  it(`${USERS} users × ${RUNS_PER_USER} runs, sockets killed at random points: every client reconstructs every run exactly (seed ${SEED})`, async () => {
    const app = server.app;
    const started = Date.now();
    console.log(`runs-reconnect-race: seed ${SEED} (rerun with RACE_SEED=${SEED})`);
    const users = await Promise.all(range(1, USERS).map((i) => registerUser(app.url, `race${i}`)));
    const abort = { failed: false };
    const seeder = prng(SEED);
    const clients = users.map(
      (user, i) => new RaceClient(app, user, `user${i + 1}`, Math.floor(seeder() * 2 ** 31), abort),
    );
    try {
      const outcomes = await Promise.allSettled(clients.map((c) => c.play()));
      const failures = clients.flatMap((c) => c.failures);
      expect(failures, failures.join('\n')).toEqual([]);
      const rejected = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
      expect(rejected, rejected.join('\n')).toEqual([]);
      const phaseMs = Date.now() - started;

      const ownRuns = new Map<string, string>();
      for (const client of clients) {
        const { threads, runs } = await listRuns(app, client.user);
        // One run per message id despite the re-sends, on the client's threads, all completed.
        expect(threads).toHaveLength(THREADS_PER_USER);
        expect(runs).toHaveLength(RUNS_PER_USER);
        expect(new Set(runs.map((r) => r.id))).toEqual(new Set(client.messages.map((m) => m.ack?.runId)));
        expect(new Set(client.runs.keys())).toEqual(new Set(runs.map((r) => r.id)));
        for (const r of runs) ownRuns.set(r.id, client.name);

        for (const m of client.messages) {
          const runId = m.ack?.runId ?? '';
          const stored = await request<{ status: string; events: RunEvent[] }>(
            app.url,
            'GET',
            `/runs/${runId}/events?after=0`,
            { token: client.user.accessToken },
          );
          expect(stored.status).toBe(200);
          expect(stored.body.status).toBe('completed');
          const events = stored.body.events;
          const rebuilt = client.runs.get(runId)?.events ?? [];
          expect(rebuilt, `${client.name} ${m.id} run ${runId}`).toEqual(events);
          expect(seqs(rebuilt)).toEqual(range(1, m.deltas + 4));
          expect(verifyRunEvents(rebuilt)).toEqual([]);
          expect(rebuilt.filter((e) => isTerminalEvent(e))).toHaveLength(1);
          expect(rebuilt.at(-1)?.type).toBe('agent_completed');
          expect(rebuilt.every((e) => e.threadId === m.ack?.threadId)).toBe(true);
          expect(runs.find((r) => r.id === runId)?.lastSeq).toBe(m.deltas + 4);
        }
        // Everything this client's sockets carried was its own.
        expect([...client.seenThreadIds].filter((t) => !threads.includes(t))).toEqual([]);
      }
      for (const client of clients) {
        const foreign = [...client.seenRunIds]
          .filter((id) => ownRuns.get(id) !== client.name)
          .map((id) => `${id} (of ${ownRuns.get(id) ?? 'nobody'})`);
        expect(foreign, `${client.name} saw runs that are not its own`).toEqual([]);
      }

      const total = (pick: (s: Stats) => number): number => clients.reduce((n, c) => n + pick(c.stats), 0);
      for (const c of clients) {
        if (process.env.RACE_VERBOSE !== undefined) console.log(`${c.name}: ${JSON.stringify(c.stats)}`);
        expect(c.stats.kills).toBeGreaterThanOrEqual(3);
        // A connection never delivered a seq of a run twice, except where its own resume asked for it again.
        expect(c.stats.unrequestedDuplicates).toBe(0);
      }
      // The race was really run: kills while runs were going, resumes of running runs, kills right after resume.
      expect(total((s) => s.killsMidRun)).toBeGreaterThanOrEqual(USERS * 2);
      expect(total((s) => s.resumedUnfinished)).toBeGreaterThan(0);
      expect(total((s) => s.killsByKind.afterResume)).toBeGreaterThan(0);
      const by = (reason: ResumeReason): number => total((s) => s.requestedDuplicatesBy[reason]);
      console.log(
        `runs-reconnect-race: seed ${SEED}, ${USERS * RUNS_PER_USER} runs, ${total((s) => s.kills)} kills (${total((s) => s.killsMidRun)} mid-run,` +
          ` ${total((s) => s.killsByKind.afterResume)} right after resume, ${total((s) => s.killsByKind.afterSend)} right after a send,` +
          ` ${total((s) => s.killsByMode.close)} by close()), ${total((s) => s.connections)} connections, ${total((s) => s.resumesSent)} resumes` +
          ` (${total((s) => s.resumedUnfinished)} answered unfinished), ${total((s) => s.resends)} re-sent messages; same seq twice on one connection:` +
          ` ${total((s) => s.unrequestedDuplicates)} unrequested, ${total((s) => s.requestedDuplicates)} asked for by an overlapping resume` +
          ` (listed queued ${by('listedQueued')}, listed running ${by('listedRunning')}, known only ${by('knownOnly')}, repeat ack ${by('repeatAck')});` +
          ` run phase ${phaseMs} ms, total ${Date.now() - started} ms`,
      );
    } finally {
      for (const c of clients) c.shutdown();
    }
  }, 45_000);
});
