import { randomUUID } from 'node:crypto';
import type { RunContext, ToolOutcome } from '../agents/index.js';
import type { ApprovalReason, PendingApproval, RunEvent, RunEventBody } from '../protocol/index.js';
import { stamp, Timestamps, type PendingEvent } from './pending-events.js';
import { SeqTakenError, type EventLog, type UserEventBus } from './ports.js';
import { LATE_STORE_MS, untilStored } from './until-stored.js';

/** Why a run was stopped from outside the agent. */
type StopReason = 'cancelled' | 'timeout' | 'shutdown' | 'storage';

class RunStop extends Error {
  override readonly name = 'RunStop';
  constructor(readonly reason: StopReason) {
    super(`run stopped: ${reason}`);
  }
}

/** Events stored per write: one multi-row INSERT stays far below SQLite's and PostgreSQL's parameter limits. */
export const MAX_EVENTS_PER_WRITE = 500;

/**
 * One run in progress: its numbering, its ordered persist-then-deliver chain and its abort controller.
 * Events are numbered when stored, written to the EventLog in order, and published only after they are stored,
 * so anything a client saw can be replayed. Events emitted while a write is in flight (or in the same tick) are
 * stored together in the next write: one statement per burst instead of one per event, and the socket layer sends
 * the burst in one write too. After the terminal event every emit is ignored.
 *
 * The first of three batching layers, and the one that owns latency (docs/ARCHITECTURE.md, "Three batching layers").
 */
export class ActiveRun {
  private readonly controller = new AbortController();
  private startedAtMs: number;
  /** Tool calls started and not yet completed: closed with an error if the run ends first. */
  private readonly openToolCalls = new Map<string, { readonly tool: string; startedAt: number }>();
  private toolCalls = 0;
  private lastDeliveredSeq = 0;
  private ended = false;
  private storageFailed = false;
  private terminalStored = false;
  /**
   * Another instance wrote this seq: it decided the run was orphaned and ended it, so nothing more is ours to send;
   * what it stored is relayed instead (relayStoredEnd).
   */
  private takenOver = false;
  private pending: PendingEvent[] = [];
  /** Tool calls whose tool_executing is delivered and whose tool_completed is not: the log must close them. */
  private readonly openInLog = new Set<string>();
  /** After a storage failure: what was delivered but not stored yet, stored with the terminal event. */
  private unstored: RunEvent[] = [];
  private flushQueued = false;
  private chain: Promise<void> = Promise.resolve();
  private readonly timestamps: Timestamps;
  /** Tool calls waiting for the user: listed in activeRuns so a new tab can ask at once. */
  private readonly approvals = new Map<string, PendingApproval>();
  private readonly deadline = {
    timer: undefined as NodeJS.Timeout | undefined,
    armed: false,
    remainingMs: 0,
    since: 0,
    holds: 0,
  };

  constructor(
    readonly context: RunContext,
    private readonly log: EventLog,
    private readonly bus: UserEventBus,
    private readonly now: () => number,
    private readonly onStoreError: (err: unknown, event: RunEvent) => void,
    /** How long an unstored terminal event is retried (tests shorten it). */
    private readonly lateStoreMs = LATE_STORE_MS,
  ) {
    this.startedAtMs = now();
    this.timestamps = new Timestamps(now);
  }

  /** When the agent started (queue time is not run time): set by markStarted(). */
  get startedAt(): number {
    return this.startedAtMs;
  }

  /** Highest seq stored and delivered. */
  get deliveredSeq(): number {
    return this.lastDeliveredSeq;
  }

  /** Whether the terminal event is in the log (known once end() has resolved). */
  get endStored(): boolean {
    return this.terminalStored;
  }

  markStarted(): void {
    this.startedAtMs = this.now();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Stops the run `timeout` after `ms` of its own time: time held by holdDeadline() (waiting for a person) is not counted. */
  startDeadline(ms: number): void {
    this.deadline.remainingMs = ms;
    this.deadline.armed = true;
    this.armDeadline();
  }

  /** Pauses the deadline until the returned release is called (holds nest). */
  holdDeadline(): () => void {
    const d = this.deadline;
    if (d.holds++ === 0 && d.timer !== undefined) {
      clearTimeout(d.timer);
      d.timer = undefined;
      d.remainingMs -= this.now() - d.since;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // A timer that was late when the hold began left nothing (or less) to wait: it fires at once.
      if (--d.holds === 0 && d.armed) this.armDeadline();
    };
  }

  clearDeadline(): void {
    clearTimeout(this.deadline.timer);
    this.deadline.timer = undefined;
    this.deadline.armed = false;
  }

  private armDeadline(): void {
    const d = this.deadline;
    if (d.holds > 0) return;
    d.since = this.now();
    d.timer = setTimeout(() => this.stop('timeout'), Math.max(0, d.remainingMs));
  }

  get pendingApprovals(): PendingApproval[] {
    return [...this.approvals.values()];
  }

  /** Emits tool_approval_requested and lists the call until approvalResolved(). */
  approvalRequested(approval: PendingApproval): void {
    if (this.ended) return;
    this.approvals.set(approval.toolCallId, approval);
    this.emit({ type: 'tool_approval_requested', ...approval });
  }

  approvalResolved(toolCallId: string, approved: boolean, reason: ApprovalReason): void {
    if (!this.approvals.delete(toolCallId)) return;
    this.emit({ type: 'tool_approval_resolved', toolCallId, approved, reason });
    // tool_completed.durationMs is the tool's own time: the wait for a person is not part of it.
    const call = this.openToolCalls.get(toolCallId);
    if (call !== undefined) call.startedAt = this.now();
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
    this.enqueue(body, false);
  }

  /** Counts one more tool call; returns how many the run has asked for. */
  countToolCall(): number {
    return ++this.toolCalls;
  }

  /**
   * Emits tool_executing under a new toolCallId (or the agent's own), open until completeToolCall() or the end of
   * the run.
   */
  beginToolCall(tool: string, args: unknown, toolCallId = `call_${randomUUID()}`): string {
    this.openToolCalls.set(toolCallId, { tool, startedAt: this.now() });
    this.emit({ type: 'tool_executing', toolCallId, tool, args });
    return toolCallId;
  }

  /**
   * Emits tool_completed for an open call. False when the call is no longer open: the run ended meanwhile and
   * end() already closed it.
   */
  completeToolCall(toolCallId: string, outcome: ToolOutcome): boolean {
    const call = this.openToolCalls.get(toolCallId);
    if (call === undefined) return false;
    this.openToolCalls.delete(toolCallId);
    const durationMs = this.now() - call.startedAt;
    const { tool } = call;
    this.emit(
      outcome.ok
        ? { type: 'tool_completed', toolCallId, tool, result: outcome.result, durationMs }
        : { type: 'tool_completed', toolCallId, tool, error: outcome.error, durationMs },
    );
    return true;
  }

  /** Emits the terminal event and resolves once every event is stored and delivered. */
  async end(body: RunEventBody): Promise<void> {
    const nowMs = this.now();
    for (const [toolCallId, call] of this.openToolCalls) {
      this.emit({
        type: 'tool_completed',
        toolCallId,
        tool: call.tool,
        error: { code: 'aborted', message: 'The run ended before the tool finished.' },
        durationMs: nowMs - call.startedAt,
      });
    }
    this.openToolCalls.clear();
    this.ended = true;
    this.enqueue(body, true);
    // A backlog larger than one write queues further writes while it drains.
    let chain: Promise<void>;
    do {
      chain = this.chain;
      await chain;
    } while (chain !== this.chain);
  }

  private enqueue(body: RunEventBody, terminal: boolean): void {
    this.pending.push({ body, ts: this.timestamps.next(), terminal });
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.chain = this.chain.then(() => this.flush());
  }

  /**
   * Numbers and stores what is pending in one write (all or nothing), then delivers it. After a storage failure the
   * run stops and only its terminal event is still delivered, at once, so no client waits for storage to come back;
   * it takes the seq after the last stored one (so a failed write never leaves a gap) and is stored there as soon
   * as storage is back, so the log ends with exactly the terminal event the sockets saw.
   */
  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, MAX_EVENTS_PER_WRITE);
    this.flushQueued = this.pending.length > 0;
    if (this.flushQueued) this.chain = this.chain.then(() => this.flush());
    if (this.takenOver) return;
    if (!this.storageFailed) {
      const events = batch.map((p, i) => stamp(this.context, p, this.deliveredSeq + 1 + i));
      try {
        await this.log.append(events);
        this.lastDeliveredSeq += events.length;
        for (const event of events) this.deliver(event);
        if (batch.some((p) => p.terminal)) this.terminalStored = true;
        return;
      } catch (err) {
        this.storageFailed = true;
        this.takenOver = err instanceof SeqTakenError;
        this.onStoreError(err, events[0]!);
        if (this.takenOver) return this.relayStoredEnd();
      }
    }
    // Storage is failing: only the run's end still goes out, which is the terminal event and the closing of every
    // tool call the followers saw open (so the order rules hold for them and for the log alike).
    for (const pending of batch) {
      const { body } = pending;
      const closesDelivered = body.type === 'tool_completed' && this.openInLog.has(body.toolCallId);
      if (!pending.terminal && !closesDelivered) continue;
      const event = stamp(this.context, pending, this.deliveredSeq + 1);
      this.lastDeliveredSeq = event.seq;
      this.deliver(event);
      this.unstored.push(event);
    }
    if (!batch.some((p) => p.terminal)) return;
    const late = this.unstored;
    // Retried until storage is back (bounded): orphan recovery, which would write its own end at these seqs, loses.
    this.terminalStored = await untilStored(() => this.log.append(late), {
      giveUpAfterMs: this.lateStoreMs,
      isFinal: (err) => err instanceof SeqTakenError,
    });
  }

  private deliver(event: RunEvent): void {
    if (event.type === 'tool_executing') this.openInLog.add(event.toolCallId);
    if (event.type === 'tool_completed') this.openInLog.delete(event.toolCallId);
    this.bus.publish(this.context.userId, event);
  }

  /**
   * The instance that took the run over stored its end; this instance's followers may not share a bus with it (a
   * restart on the same data, an outage), so they get what it stored from here, and none waits forever for a
   * terminal event. A follower that also got them from that instance drops the repeats (per-run seq).
   */
  private async relayStoredEnd(): Promise<void> {
    try {
      for (const event of await this.log.list(this.context.runId, this.lastDeliveredSeq)) {
        this.lastDeliveredSeq = event.seq;
        this.bus.publish(this.context.userId, event);
      }
    } catch {
      // The log cannot be read now either: followers get the end when they resume.
    }
  }
}
