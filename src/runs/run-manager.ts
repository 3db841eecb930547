import { createRunContext } from '../agents/index.js';
import { AppError, isAppError, notFound } from '../errors/index.js';
import type { ActiveRun as ActiveRunInfo, OnBusy } from '../protocol/index.js';
import { ActiveRun } from './active-run.js';
import type { Capacity } from './capacity.js';
import { newId } from './ids.js';
import type {
  Accepted,
  EventLog,
  MessageIdStore,
  RunControlBus,
  RunRecord,
  RunStartLimiter,
  UserEventBus,
} from './ports.js';
import { RunExecutor, type RunExecutorDeps } from './run-executor.js';
import { Submissions } from './submissions.js';
import { ensureThread } from './threads.js';
import { ThreadQueue } from './thread-queue.js';

export interface RunManagerDeps extends RunExecutorDeps {
  readonly events: EventLog;
  readonly bus: UserEventBus;
  readonly runControl: RunControlBus;
  readonly messageIds: MessageIdStore;
  /** RUNS_PER_MINUTE, over every entry point. */
  readonly runStarts: RunStartLimiter;
  /** This instance's limits (MAX_ACTIVE_RUNS, DATABASE_QUEUE_WAIT_MS): past them new runs are refused at once. */
  readonly capacity: Capacity;
}

interface Submission {
  readonly text: string;
  readonly threadId?: string | undefined;
  readonly onBusy?: OnBusy | undefined;
  /** The client's message id: a repeat within IDEMPOTENCY_WINDOW_MS returns the first ack and starts nothing. */
  readonly clientId?: string | undefined;
  readonly connectionId: string | null;
  /** A run id minted by the client (AG-UI); another user's id is `not_found`. Default: a new UUID. */
  readonly runId?: string | undefined;
  /** A `threadId` that does not exist yet is created for the user (AG-UI clients mint thread ids). */
  readonly createThread?: boolean | undefined;
}

/**
 * Admits, tracks, cancels and shuts down the runs of this instance: the per-user limit and onBusy, thread creation,
 * and the ActiveRun of every run in progress here. Runs on other instances are reached through the RunControlBus.
 * Execution is the RunExecutor's, the idempotency window the Submissions'.
 */
export class RunManager {
  private readonly active = new Map<string, ActiveRun>();
  /** Admissions under way (not yet in `active`): they count against MAX_ACTIVE_RUNS too. */
  private admitting = 0;
  /** The same runs per user, in the order they were accepted. */
  private readonly activeByUser = new Map<string, Map<string, ActiveRun>>();
  private readonly queue = new ThreadQueue();
  private readonly submissions: Submissions;
  private readonly executor: RunExecutor;
  private readonly stopControl: () => void;

  constructor(private readonly deps: RunManagerDeps) {
    this.submissions = new Submissions(deps);
    this.executor = new RunExecutor(deps);
    this.stopControl = deps.runControl.subscribe((runId) => this.active.get(runId)?.stop('cancelled'));
  }

  /**
   * Accepts a user message: stores it, announces it to the user's connections (after `onAccepted`, so the sender
   * sees its ack first) and starts its run when the thread is free. A repeated id answers with the first ack.
   */
  submit(userId: string, input: Submission, onAccepted: (ack: Accepted) => void = () => {}): Promise<Accepted> {
    const key = { userId, clientId: input.clientId, runId: input.runId };
    return this.submissions.once(key, (accepted) => this.admitOrUnavailable(userId, input, accepted), onAccepted);
  }

  /**
   * Admission reads and writes only stores: a failure that is not an answer (an AppError) is a store that cannot be
   * reached, and the client hears `service_unavailable` (send again, with the same id), as over HTTP, never
   * `internal_error`.
   */
  private async admitOrUnavailable(
    userId: string,
    input: Submission,
    onAccepted: (ack: Accepted) => void,
  ): Promise<Accepted> {
    try {
      return await this.admit(userId, input, onAccepted);
    } catch (err) {
      if (isAppError(err)) throw err;
      this.deps.logger.warn({ err }, 'message not accepted: its thread or run could not be stored');
      throw new AppError(
        'service_unavailable',
        'The message could not be stored right now: send it again shortly (with the same id).',
        { cause: err },
      );
    }
  }

  /** Stops a run of this user, here or on the instance executing it; another user's run is `not_found`, like a missing one. */
  async cancel(userId: string, runId: string): Promise<void> {
    const run = this.active.get(runId);
    if (run !== undefined && run.context.userId === userId) {
      run.stop('cancelled');
      return;
    }
    const record = await this.deps.runs.getRun(userId, runId);
    if (record === undefined) throw notFound('run');
    if (record.status !== 'running') throw new AppError('run_finished', 'The run has already ended.');
    try {
      await this.deps.runControl.publish(runId);
    } catch (err) {
      throw new AppError(
        'service_unavailable',
        'The run executes on another instance, which cannot be reached right now: try again shortly.',
        { cause: err },
      );
    }
  }

  /** The user's runs in progress on any instance, with the tool calls they wait on, for connection_established. */
  async activeRuns(userId: string): Promise<ActiveRunInfo[]> {
    const runs = await this.inProgress(userId);
    if (runs.length === 0) return [];
    if (this.deps.liveness.alone) {
      return runs.map((r) => ({
        runId: r.id,
        threadId: r.threadId,
        lastSeq: r.lastSeq,
        pendingApprovals: this.active.get(r.id)?.pendingApprovals ?? [],
      }));
    }
    const pending = await this.deps.approvals.pendingOf(userId);
    return runs.map((r) => ({
      runId: r.id,
      threadId: r.threadId,
      lastSeq: r.lastSeq,
      pendingApprovals: (pending.get(r.id) ?? []).map((a) => ({
        toolCallId: a.toolCallId,
        tool: a.tool,
        args: JSON.parse(a.args) as unknown,
        expiresAt: a.expiresAt,
      })),
    }));
  }

  /** A person's decision on a tool call of one of their runs (any instance): the first decision wins. */
  decideApproval(userId: string, runId: string, toolCallId: string, approved: boolean): Promise<void> {
    return this.deps.approvals.decide(userId, runId, toolCallId, approved);
  }

  /**
   * Lets runs in progress finish for up to `graceMs`, then stops the rest (`interrupted`) and waits until each has
   * stored its terminal event.
   */
  async shutdown(graceMs = 0): Promise<void> {
    this.stopControl();
    const runs = [...this.active.values()];
    const threads = runs.map((r) => r.context.threadId);
    if (graceMs > 0 && runs.length > 0) {
      this.deps.logger.info({ runs: runs.length, graceMs }, 'waiting for runs to finish');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.queue.drain(threads), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    for (const run of this.active.values()) run.stop('shutdown');
    await this.queue.drain(threads);
    this.deps.approvals.close();
  }

  get activeCount(): number {
    return this.active.size;
  }

  /**
   * The user's runs in progress, oldest first. An instance that is alone holds every one of them (the runs of a
   * previous process were ended at start-up), so it answers from memory instead of the database, on every
   * handshake and every message. Otherwise the database answers for the whole cluster.
   */
  private async inProgress(userId: string): Promise<Pick<RunRecord, 'id' | 'threadId' | 'lastSeq'>[]> {
    if (!this.deps.liveness.alone) return this.deps.runs.listActive(userId);
    const runs = this.activeByUser.get(userId);
    if (runs === undefined) return [];
    return [...runs.values()].map((r) => ({
      id: r.context.runId,
      threadId: r.context.threadId,
      lastSeq: r.deliveredSeq,
    }));
  }

  /**
   * Admission: the per-user limits (runs in progress, then run starts), the thread and its caps, onBusy; then the
   * run is stored, announced and queued.
   */
  private async admit(userId: string, input: Submission, onAccepted: (ack: Accepted) => void): Promise<Accepted> {
    try {
      this.deps.capacity.admit(this.active.size + this.admitting);
    } catch (err) {
      this.deps.telemetry.rateLimited('overloaded');
      throw err;
    }
    this.admitting += 1;
    try {
      return await this.admitWithin(userId, input, onAccepted);
    } finally {
      this.admitting -= 1;
    }
  }

  private async admitWithin(userId: string, input: Submission, onAccepted: (ack: Accepted) => void): Promise<Accepted> {
    const { conversations, runs, limits, bus, now } = this.deps;
    // The runs in progress on every instance: the per-user limit and onBusy are decided for the whole cluster.
    const inProgress = await this.inProgress(userId);
    if (inProgress.length >= limits.maxPerUser) {
      this.deps.telemetry.rateLimited('runs');
      throw new AppError(
        'too_many_runs',
        `You already have ${inProgress.length} runs in progress (the limit is ${limits.maxPerUser}).`,
      );
    }
    await this.deps.runStarts.consume(userId).catch((err: unknown) => {
      if (isAppError(err) && err.code === 'rate_limited') this.deps.telemetry.rateLimited('run_starts');
      throw err;
    });
    const nowIso = new Date(now()).toISOString();
    const threadId = input.threadId ?? newId();
    await ensureThread(
      { ...this.deps, caps: limits },
      {
        userId,
        threadId,
        text: input.text,
        nowIso,
        clientThread: input.threadId !== undefined,
        createThread: input.createThread === true,
        clientRunId: input.runId,
      },
    );
    const busy = inProgress.filter((r) => r.threadId === threadId);
    const onBusy = input.onBusy ?? 'enqueue';
    if (busy.length > 0 && onBusy === 'reject') {
      throw new AppError('thread_busy', 'This thread already has a run in progress.');
    }
    if (onBusy === 'interrupt') await Promise.all(busy.map((r) => this.interrupt(r.id)));

    const runId = input.runId ?? newId();
    const messageId = newId();
    const instanceId = this.deps.liveness.instanceId;
    try {
      await runs.createRun({
        id: runId,
        threadId,
        userId,
        status: 'running',
        errorCode: null,
        lastSeq: 0,
        createdAt: nowIso,
        updatedAt: nowIso,
        instanceId,
      });
    } catch (err) {
      // A client-minted id that is taken: someone else's run reads as missing, like everywhere else.
      if (input.runId !== undefined && (await runs.getRun(userId, runId)) === undefined) throw notFound('run');
      throw err;
    }
    const message = { id: messageId, role: 'user', text: input.text, createdAt: nowIso } as const;
    await conversations.addMessage({ ...message, threadId, userId, runId });
    const context = createRunContext({ userId, threadId, runId, connectionId: input.connectionId });
    const run = new ActiveRun(context, this.deps.events, bus, now, (err, event) => {
      this.deps.logger.error({ err, runId, seq: event.seq }, 'run event could not be stored; stopping the run');
      run.stop('storage');
    });
    this.track(run);
    const ack = { threadId, runId };
    onAccepted(ack);
    bus.publish(userId, { type: 'message_added', threadId, runId, message });
    const newThread = input.threadId === undefined;
    this.queue.enqueue(threadId, run.signal, () =>
      this.executor
        .execute(run, { text: input.text, messageId, newThread, clientMessageId: input.clientId })
        .finally(() => this.untrack(run)),
    );
    return ack;
  }

  /** Stops a run for `interrupt`: here at once, elsewhere through the RunControlBus. */
  private async interrupt(runId: string): Promise<void> {
    const local = this.active.get(runId);
    if (local !== undefined) return local.stop('cancelled');
    await this.deps.runControl.publish(runId).catch((err: unknown) => {
      throw new AppError(
        'service_unavailable',
        'The running run is on another instance, which cannot be reached right now: try again shortly.',
        { cause: err },
      );
    });
  }

  private track(run: ActiveRun): void {
    const { userId, runId } = run.context;
    this.active.set(runId, run);
    let runs = this.activeByUser.get(userId);
    if (runs === undefined) this.activeByUser.set(userId, (runs = new Map<string, ActiveRun>()));
    runs.set(runId, run);
  }

  private untrack(run: ActiveRun): void {
    const { userId, runId } = run.context;
    this.active.delete(runId);
    const runs = this.activeByUser.get(userId);
    runs?.delete(runId);
    if (runs?.size === 0) this.activeByUser.delete(userId);
  }
}
