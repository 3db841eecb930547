import { isTerminalEvent, type RunEvent } from '../protocol/index.js';

/**
 * Per-connection, per-run delivery bookkeeping: each connection sees each run as one contiguous, in-order stream
 * with no seq twice, except the seqs a `resume` asks for again (it replays everything after its afterSeq, as the
 * contract says, even what this connection already sent). A connection follows a run live from agent_started if it was open when the run started;
 * a run already under way when it connected (listed in connection_established.activeRuns) reaches it only once it
 * sends `resume`, so a replay never arrives after later live events. While a run is replayed its live events are
 * held back and released after the replay, skipping what the replay already sent. A live event that skips seqs
 * (the bus dropped some, e.g. while Redis was away) triggers the same replay from the EventLog to fill the gap.
 */
export class RunDelivery {
  private readonly runs = new Map<string, { lastSeq: number; held: RunEvent[] | undefined }>();

  constructor(
    private readonly send: (event: RunEvent) => void,
    private readonly readLog: (runId: string, afterSeq: number) => Promise<readonly RunEvent[]>,
    private readonly onRefillError: (err: unknown, runId: string) => void,
  ) {}

  /** A live event from the bus. */
  live(event: RunEvent): void {
    const state = this.runs.get(event.runId);
    if (state?.held !== undefined) return void state.held.push(event);
    if (state === undefined && event.seq !== 1) return;
    if (state !== undefined && event.seq <= state.lastSeq) return;
    if (state !== undefined && event.seq > state.lastSeq + 1) return this.refill(event.runId, state.lastSeq, [event]);
    this.deliver(event);
  }

  /** The bus may have dropped events: re-read every run this connection follows from where it is. */
  resync(): void {
    for (const [runId, state] of this.runs) if (state.held === undefined) this.refill(runId, state.lastSeq, []);
  }

  /**
   * Starts holding back live events of this run; call before reading the EventLog. Live events another replay (or a
   * refill) of the run already holds stay held: the replays may overlap, and no held event may be lost.
   */
  beginReplay(runId: string, afterSeq: number): void {
    this.runs.set(runId, { lastSeq: afterSeq, held: [...(this.runs.get(runId)?.held ?? [])] });
  }

  /**
   * Sends the stored events, then the held live ones, skipping every seq already sent. Returns the last seq sent.
   * Where they leave a gap (live events that came between the read and the hold, or that an overlapping replay
   * took), the rest is held again and the gap refilled from the EventLog: a run is never sent with a seq missing.
   */
  finishReplay(runId: string, stored: readonly RunEvent[]): number {
    const state = this.runs.get(runId);
    if (state === undefined) return 0;
    const pending = [...stored, ...(state.held ?? [])].sort((a, b) => a.seq - b.seq);
    state.held = undefined;
    let lastSeq = state.lastSeq;
    for (const [i, event] of pending.entries()) {
      if (event.seq <= lastSeq) continue;
      if (event.seq > lastSeq + 1) {
        this.refill(runId, lastSeq, pending.slice(i));
        return lastSeq;
      }
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

  private refill(runId: string, afterSeq: number, held: RunEvent[]): void {
    this.runs.set(runId, { lastSeq: afterSeq, held });
    this.readLog(runId, afterSeq).then(
      (stored) => void this.finishReplay(runId, stored),
      (err: unknown) => {
        this.onRefillError(err, runId);
        // Keep following from where we were: the next live event retries the refill.
        const state = this.runs.get(runId);
        if (state !== undefined) state.held = undefined;
      },
    );
  }

  private deliver(event: RunEvent): void {
    this.send(event);
    if (isTerminalEvent(event)) this.runs.delete(event.runId);
    else this.runs.set(event.runId, { lastSeq: event.seq, held: undefined });
  }
}
