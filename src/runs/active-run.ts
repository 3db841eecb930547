import type { RunContext } from '../agents/index.js';
import type { RunEvent, RunEventBody } from '../protocol/index.js';
import { SeqTakenError, type EventLog, type UserEventBus } from './ports.js';

/** Why a run was stopped from outside the agent. */
export type StopReason = 'cancelled' | 'timeout' | 'shutdown';

export class RunStop extends Error {
  override readonly name = 'RunStop';
  constructor(readonly reason: StopReason) {
    super(`run stopped: ${reason}`);
  }
}

/**
 * One run in progress: its numbering, its ordered persist-then-deliver chain and its abort controller.
 * Events are numbered when emitted, written to the EventLog in order, and published only after they are stored,
 * so anything a client saw can be replayed. After the terminal event every emit is ignored.
 */
export class ActiveRun {
  readonly controller = new AbortController();
  /** When the agent started (queue time is not run time); set by markStarted(). */
  startedAt: number;
  /** Tool calls started and not yet completed: closed with an error if the run ends first. */
  readonly openToolCalls = new Map<string, { tool: string; startedAt: number }>();
  toolCallCount = 0;
  /** Highest seq stored and delivered. */
  deliveredSeq = 0;
  private ended = false;
  private storageFailed = false;
  /** Another instance wrote this seq: it decided the run was orphaned and ended it, so nothing more is ours to send. */
  private takenOver = false;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly context: RunContext,
    private readonly log: EventLog,
    private readonly bus: UserEventBus,
    private readonly now: () => number,
    private readonly onStoreError: (err: unknown, event: RunEvent) => void,
  ) {
    this.startedAt = now();
  }

  markStarted(): void {
    this.startedAt = this.now();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  stop(reason: StopReason): void {
    if (!this.controller.signal.aborted) this.controller.abort(new RunStop(reason));
  }

  stopReason(): StopReason | undefined {
    const reason: unknown = this.controller.signal.reason;
    return reason instanceof RunStop ? reason.reason : undefined;
  }

  emit(body: RunEventBody): void {
    if (this.ended) return;
    const ts = new Date(this.now()).toISOString();
    this.chain = this.chain.then(() => this.storeAndDeliver(body, ts, false));
  }

  /**
   * Numbers the event when it is stored, so a failed write never leaves a gap in seq. After a storage failure the
   * run stops and only its terminal event is still delivered (unstored), so no client waits forever; restart
   * recovery writes a terminal event at that same seq.
   */
  private async storeAndDeliver(body: RunEventBody, ts: string, terminal: boolean): Promise<void> {
    if ((this.storageFailed && !terminal) || this.takenOver) return;
    const event = { ...body, runId: this.context.runId, threadId: this.context.threadId, seq: this.deliveredSeq + 1, ts };
    if (!this.storageFailed) {
      try {
        await this.log.append(event);
      } catch (err) {
        this.storageFailed = true;
        this.takenOver = err instanceof SeqTakenError;
        this.onStoreError(err, event);
        if (!terminal || this.takenOver) return;
      }
    }
    this.deliveredSeq = event.seq;
    this.bus.publish(this.context.userId, event);
  }

  /** Emits the terminal event and resolves once every event is stored and delivered. */
  async end(body: RunEventBody): Promise<void> {
    const nowMs = this.now();
    for (const [toolCallId, call] of this.openToolCalls) {
      this.emit({ type: 'tool_completed', toolCallId, tool: call.tool, error: { code: 'aborted', message: 'The run ended before the tool finished.' }, durationMs: nowMs - call.startedAt });
    }
    this.openToolCalls.clear();
    const ts = new Date(this.now()).toISOString();
    this.ended = true;
    this.chain = this.chain.then(() => this.storeAndDeliver(body, ts, true));
    await this.chain;
  }
}
