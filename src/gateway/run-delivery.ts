import { isTerminalEvent, type RunEvent } from '../protocol/index.js';

/**
 * Per-connection, per-run delivery bookkeeping: each connection sees each run as one contiguous, in-order stream
 * with no seq twice. A connection follows a run live from agent_started if it was open when the run started;
 * a run already under way when it connected (listed in connection_established.activeRuns) reaches it only once it
 * sends `resume`, so a replay never arrives after later live events. While a run is replayed its live events are
 * held back and released after the replay, skipping what the replay already sent.
 */
export class RunDelivery {
  private readonly runs = new Map<string, { lastSeq: number; held: RunEvent[] | undefined }>();

  constructor(private readonly send: (event: RunEvent) => void) {}

  /** A live event from the bus. */
  live(event: RunEvent): void {
    const state = this.runs.get(event.runId);
    if (state?.held !== undefined) return void state.held.push(event);
    if (state === undefined && event.seq !== 1) return;
    if (state !== undefined && event.seq <= state.lastSeq) return;
    this.deliver(event);
  }

  /** Starts holding back live events of this run; call before reading the EventLog. */
  beginReplay(runId: string, afterSeq: number): void {
    this.runs.set(runId, { lastSeq: afterSeq, held: [] });
  }

  /** Sends the stored events, then the held live ones, skipping every seq already sent. Returns the last seq sent. */
  finishReplay(runId: string, stored: readonly RunEvent[]): number {
    const state = this.runs.get(runId);
    if (state === undefined) return 0;
    const held = state.held ?? [];
    state.held = undefined;
    let lastSeq = state.lastSeq;
    for (const event of [...stored, ...held]) {
      if (event.seq <= lastSeq) continue;
      this.deliver(event);
      lastSeq = event.seq;
    }
    return lastSeq;
  }

  /** Drops the bookkeeping of a failed replay, releasing anything held. */
  abortReplay(runId: string): void {
    const state = this.runs.get(runId);
    this.runs.delete(runId);
    for (const event of state?.held ?? []) this.live(event);
  }

  private deliver(event: RunEvent): void {
    this.send(event);
    if (isTerminalEvent(event)) this.runs.delete(event.runId);
    else this.runs.set(event.runId, { lastSeq: event.seq, held: undefined });
  }
}
