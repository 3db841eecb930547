/**
 * The request loops a generator runs over its open connections. Each connection has at most one request on the
 * wire; a request is done when its terminal event arrives.
 *   closed loop  every connection sends its next request as soon as the previous one is done (throughput).
 *   open loop    requests are due on a fixed schedule (the offered rate, spread evenly over connections with
 *                random phases); a request due while its connection is busy waits and its latency still counts
 *                from when it was due, so a slow server cannot hide its queueing (no coordinated omission).
 */
import { performance } from 'node:perf_hooks';
import { EVENTS_PER_REQUEST, MARK, requestFrame } from '../lib/workload.js';
import type { RawWs } from './raw-ws.js';

export interface Counters {
  /** Run events received (frames with a seq). */
  events: number;
  /** Requests whose terminal event arrived. */
  requests: number;
  /** Requests that did not get exactly EVENTS_PER_REQUEST run events: the server broke the workload. */
  badBursts: number;
  /** `error` frames and agent_error terminals. */
  errors: number;
  firstError: string | undefined;
  /** Requests refused `overloaded`: not errors, the server said it is full (the loop retries after the hint). */
  refused: number;
}

export const newCounters = (): Counters => ({
  events: 0,
  requests: 0,
  badBursts: 0,
  errors: 0,
  firstError: undefined,
  refused: 0,
});

/** One connection and its request in flight. */
export class LoadConnection {
  busy = false;
  private runEvents = 0;
  private counter = 0;
  /** When the request in flight was due (open loop) or sent (closed loop). */
  private dueAt = 0;
  private startedAt = NaN;
  /** Called when the request in flight is done: (dueAt, agent_started time, terminal time). */
  onDone: (dueAt: number, startedAt: number, doneAt: number) => void = () => {};
  /** Called instead of onDone when the server refused the request `overloaded`, with its retry hint in ms. */
  onRefused: (retryAfterMs: number, dueAt: number) => void = () => {};

  constructor(
    readonly ws: RawWs,
    private readonly name: string,
    private readonly counters: Counters,
  ) {
    ws.onText = (payload) => this.receive(payload);
  }

  send(dueAt = performance.now()): void {
    this.busy = true;
    this.runEvents = 0;
    this.startedAt = NaN;
    this.dueAt = dueAt;
    this.ws.send(requestFrame(`${this.name}-${++this.counter}`));
  }

  private receive(p: Buffer): void {
    if (p.indexOf(MARK.runEvent) >= 0) {
      this.runEvents++;
      this.counters.events++;
      if (Number.isNaN(this.startedAt) && p.indexOf(MARK.started) >= 0) this.startedAt = performance.now();
      if (p.indexOf(MARK.completed) >= 0) return this.finish(false, p);
      if (p.indexOf(MARK.agentError) >= 0 || p.indexOf(MARK.cancelled) >= 0) return this.finish(true, p);
    } else if (p.indexOf(MARK.error) >= 0 && this.busy) {
      if (p.indexOf(MARK.overloaded) >= 0) return this.refuse(p);
      // The request was refused: no run will come, so this request is over.
      this.finish(true, p);
    }
  }

  private refuse(p: Buffer): void {
    this.busy = false;
    this.counters.refused++;
    const hint = /"retryAfterSeconds":(\d+)/.exec(p.toString('utf8'));
    this.onRefused(Number(hint?.[1] ?? 1) * 1000, this.dueAt);
  }

  private finish(failed: boolean, p: Buffer): void {
    if (!this.busy) return;
    this.busy = false;
    this.counters.requests++;
    if (failed) {
      this.counters.errors++;
      this.counters.firstError ??= p.toString('utf8').slice(0, 300);
    } else if (this.runEvents !== EVENTS_PER_REQUEST) this.counters.badBursts++;
    this.onDone(this.dueAt, this.startedAt, performance.now());
  }
}

/** Closed loop over every connection until stop() is called; stop() resolves once in-flight requests are done. */
export class ClosedLoop {
  private running = true;
  /** Retries waiting out an `overloaded` hint: cancelled by stop(), so none fires into a later loop. */
  private readonly retries = new Set<NodeJS.Timeout>();

  constructor(private readonly conns: readonly LoadConnection[]) {
    for (const c of conns) {
      c.onDone = () => {
        if (this.running && !c.ws.closed) c.send();
      };
      // As a client should: wait the hint, and up to half of it more, so that retries do not all come together.
      c.onRefused = (retryAfterMs) => {
        const retry = setTimeout(
          () => {
            this.retries.delete(retry);
            if (this.running && !c.busy && !c.ws.closed) c.send();
          },
          retryAfterMs * (1 + Math.random() / 2),
        );
        this.retries.add(retry);
      };
      if (!c.ws.closed) c.send();
    }
  }

  /** Stops issuing; waits up to drainMs for requests in flight. Returns how many were still in flight. */
  async stop(drainMs = 5_000): Promise<number> {
    this.running = false;
    for (const retry of this.retries) clearTimeout(retry);
    this.retries.clear();
    const until = performance.now() + drainMs;
    while (this.conns.some((c) => c.busy && !c.ws.closed) && performance.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    return this.conns.filter((c) => c.busy && !c.ws.closed).length;
  }
}

export interface OpenLoopResult {
  /** Latency samples in ms from when each request was due, for requests due inside the window. */
  readonly toStarted: number[];
  readonly toTerminal: number[];
  /** Requests due while their connection was still busy. */
  readonly late: number;
  /** Requests due in the window whose terminal event never came (before the drain ended), refusals aside. */
  readonly missing: number;
  /** Requests due in the window that the server refused `overloaded` (answered at once: not counted as missing). */
  readonly refused: number;
  readonly windowMs: number;
  /** Run events received during the window. */
  readonly events: number;
}

/** Offers `requestsPerSecond` (for this generator) for warmupMs + windowMs, then drains. */
export async function openLoop(
  conns: readonly LoadConnection[],
  counters: Counters,
  requestsPerSecond: number,
  warmupMs: number,
  windowMs: number,
): Promise<OpenLoopResult> {
  const periodMs = (conns.length / requestsPerSecond) * 1000;
  const t0 = performance.now();
  const from = t0 + warmupMs;
  const to = from + windowMs;
  const toStarted: number[] = [];
  const toTerminal: number[] = [];
  let late = 0;
  let due = 0;
  let refused = 0;
  let eventsAtFrom = 0;
  let eventsAtTo = 0;
  const marks = [
    setTimeout(() => (eventsAtFrom = counters.events), warmupMs),
    setTimeout(() => (eventsAtTo = counters.events), warmupMs + windowMs),
  ];
  const timers = new Set<NodeJS.Timeout>();
  for (const c of conns) {
    const queue: number[] = [];
    c.onDone = (dueAt, startedAt, doneAt) => {
      if (dueAt >= from && dueAt < to) {
        toStarted.push(startedAt - dueAt);
        toTerminal.push(doneAt - dueAt);
      }
      const next = queue.shift();
      if (next !== undefined && !c.ws.closed) c.send(next);
    };
    // A refusal answers its request: the schedule goes on (an open loop offers its rate whatever the answers).
    c.onRefused = (_retryAfterMs, dueAt) => {
      if (dueAt >= from && dueAt < to) refused++;
      const next = queue.shift();
      if (next !== undefined && !c.ws.closed) c.send(next);
    };
    const fire = (at: number): void => {
      if (at >= to || c.ws.closed) return;
      if (at >= from) due++;
      if (c.busy) {
        late++;
        queue.push(at);
      } else c.send(at);
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          fire(at + periodMs);
        },
        Math.max(0, at + periodMs - performance.now()),
      );
      timers.add(timer);
    };
    const first = t0 + Math.random() * periodMs;
    const timer = setTimeout(() => {
      timers.delete(timer);
      fire(first);
    }, first - t0);
    timers.add(timer);
  }
  await new Promise((r) => setTimeout(r, warmupMs + windowMs));
  // Let the window's requests finish (bounded), then stop every schedule.
  const drainUntil = performance.now() + 5_000;
  while (
    toTerminal.length + refused < due &&
    performance.now() < drainUntil &&
    conns.some((c) => c.busy && !c.ws.closed)
  )
    await new Promise((r) => setTimeout(r, 20));
  for (const t of [...timers, ...marks]) clearTimeout(t);
  for (const c of conns) {
    c.onDone = () => {};
    c.onRefused = () => {};
  }
  return {
    toStarted,
    toTerminal,
    late,
    missing: Math.max(0, due - toTerminal.length - refused),
    refused,
    windowMs,
    events: eventsAtTo - eventsAtFrom,
  };
}
