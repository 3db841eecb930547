import type { Logger } from 'pino';
import { createRunContext, raceAbort, type Agent, type ToolRegistry } from '../agents/index.js';
import { AppError, isAppError, notFound } from '../errors/index.js';
import type { ActiveRun as ActiveRunInfo, RunEvent, RunEventBody, RunStatus } from '../protocol/index.js';
import { ActiveRun } from './active-run.js';
import { createAgentIO } from './agent-io.js';
import { newId } from './ids.js';
import type { Telemetry } from '../telemetry/index.js';
import {
  SeqTakenError,
  type Accepted,
  type ConversationStore,
  type EventLog,
  type InstanceLiveness,
  type MessageIdStore,
  type RunControlBus,
  type RunRecord,
  type RunStore,
  type UserEventBus,
} from './ports.js';
import { ThreadQueue } from './thread-queue.js';

export interface RunLimits {
  readonly maxPerUser: number;
  readonly maxDurationMs: number;
  readonly maxToolCalls: number;
}

export interface RunManagerDeps {
  readonly conversations: ConversationStore;
  readonly runs: RunStore;
  readonly events: EventLog;
  readonly bus: UserEventBus;
  readonly runControl: RunControlBus;
  readonly liveness: InstanceLiveness;
  readonly messageIds: MessageIdStore;
  readonly agent: Agent;
  readonly tools: ToolRegistry;
  readonly limits: RunLimits;
  readonly telemetry: Telemetry;
  readonly logger: Logger;
  readonly now: () => number;
}

export interface Submission {
  readonly text: string;
  readonly threadId?: string | undefined;
  readonly onBusy?: 'enqueue' | 'interrupt' | 'reject' | undefined;
  /** The client's message id: a repeat within IDEMPOTENCY_WINDOW_MS returns the first ack and starts nothing. */
  readonly clientId?: string | undefined;
  readonly connectionId: string | null;
  /** A run id minted by the client (AG-UI); another user's id is `not_found`. Default: a new UUID. */
  readonly runId?: string | undefined;
  /** A `threadId` that does not exist yet is created for the user (AG-UI clients mint thread ids). */
  readonly createThread?: boolean | undefined;
}

export const IDEMPOTENCY_WINDOW_MS = 15 * 60_000;
/** How long a re-send waits for the instance that is accepting the same message id. */
const PENDING_CLAIM_WAIT_MS = 5_000;
/** A claim not settled by then (its instance died while accepting) lapses, so the id is not blocked for the window. */
const PENDING_CLAIM_TTL_MS = 30_000;
/** How often a run waiting for an earlier run of its thread on another instance looks again. */
const THREAD_POLL_MS = 100;

/**
 * Starts, queues, stops and recovers runs. Owns every run in progress on this instance; reaches runs on other
 * instances through the RunControlBus, and ends the runs of instances that are gone.
 */
export class RunManager {
  private readonly active = new Map<string, ActiveRun>();
  /** The same runs per user, in the order they were accepted. */
  private readonly activeByUser = new Map<string, Map<string, ActiveRun>>();
  private readonly queue = new ThreadQueue();
  private readonly accepted = new Map<string, { ack: Promise<Accepted>; expiresAt: number }>();
  private readonly stopControl: () => void;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(private readonly deps: RunManagerDeps) {
    this.stopControl = deps.runControl.subscribe((runId) => this.active.get(runId)?.stop('cancelled'));
  }

  /**
   * Accepts a user message: stores it, announces it to the user's connections (after `onAccepted`, so the sender
   * sees its ack first) and starts its run when the thread is free.
   */
  submit(userId: string, input: Submission, onAccepted: (ack: Accepted) => void = () => {}): Promise<Accepted> {
    // A client-minted run id is its own idempotency key, apart from message ids (a message id cannot pose as one).
    const id =
      input.runId !== undefined
        ? `run\u0000${input.runId}`
        : input.clientId !== undefined
          ? `message\u0000${input.clientId}`
          : undefined;
    if (id === undefined) return this.accept(userId, input, onAccepted);
    const key = `${userId}\u0000${id}`;
    const nowMs = this.deps.now();
    // Same instance: share the first attempt's promise (no store round trip, and its ack even while pending).
    const previous = this.accepted.get(key);
    if (previous !== undefined && previous.expiresAt > nowMs) {
      return previous.ack.then((ack) => (onAccepted(ack), ack));
    }
    this.sweepAccepted(nowMs);
    const ack = this.acceptOnce(key, userId, input, onAccepted);
    // Deleted first: set() on a key still present would keep its old place, and the sweep relies on expiry order.
    this.accepted.delete(key);
    this.accepted.set(key, { ack, expiresAt: nowMs + IDEMPOTENCY_WINDOW_MS });
    ack.catch(() => this.accepted.delete(key));
    return ack;
  }

  /** Accepts a message whose id no instance has accepted yet in the window; otherwise answers the stored ack. */
  private async acceptOnce(
    key: string,
    userId: string,
    input: Submission,
    onAccepted: (ack: Accepted) => void,
  ): Promise<Accepted> {
    const giveUpAt = this.deps.now() + PENDING_CLAIM_WAIT_MS;
    for (;;) {
      const claim = await this.deps.messageIds.claim(key, PENDING_CLAIM_TTL_MS).catch((err: unknown) => {
        throw new AppError(
          'service_unavailable',
          'Message ids cannot be checked right now: send again shortly (with the same id).',
          { cause: err },
        );
      });
      if (claim.kind === 'accepted') {
        onAccepted(claim.ack);
        return claim.ack;
      }
      if (claim.kind === 'claimed') {
        let ack: Accepted;
        try {
          ack = await this.accept(userId, input, onAccepted);
        } catch (err) {
          await this.deps.messageIds.release(key).catch(() => {});
          throw err;
        }
        await this.deps.messageIds
          .settle(key, ack, IDEMPOTENCY_WINDOW_MS)
          .catch((err: unknown) => this.deps.logger.warn({ err }, 'accepted message id not recorded'));
        return ack;
      }
      if (this.deps.now() > giveUpAt)
        throw new AppError(
          'service_unavailable',
          'This message is still being accepted: send again shortly (with the same id).',
        );
      await new Promise((r) => setTimeout(r, 25));
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

  /** The user's runs in progress on any instance, for connection_established. */
  async activeRuns(userId: string): Promise<ActiveRunInfo[]> {
    return (await this.inProgress(userId)).map((r) => ({ runId: r.id, threadId: r.threadId, lastSeq: r.lastSeq }));
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

  private track(run: ActiveRun): void {
    this.active.set(run.context.runId, run);
    const { userId } = run.context;
    let runs = this.activeByUser.get(userId);
    if (runs === undefined) this.activeByUser.set(userId, (runs = new Map<string, ActiveRun>()));
    runs.set(run.context.runId, run);
  }

  private untrack(run: ActiveRun): void {
    const { userId, runId } = run.context;
    this.active.delete(runId);
    const runs = this.activeByUser.get(userId);
    runs?.delete(runId);
    if (runs?.size === 0) this.activeByUser.delete(userId);
  }

  /** A run of this user, or not_found. */
  async getRun(userId: string, runId: string): Promise<RunRecord> {
    const record = await this.deps.runs.getRun(userId, runId);
    if (record === undefined) throw notFound('run');
    return record;
  }

  /** The runs of one of this user's threads, oldest first. */
  listRuns(userId: string, threadId: string): Promise<RunRecord[]> {
    return this.deps.runs.listRuns(userId, threadId);
  }

  /** Stored events after `afterSeq`, for replay. Checks ownership first. */
  async eventsAfter(userId: string, runId: string, afterSeq: number): Promise<{ events: RunEvent[]; run: RunRecord }> {
    const run = await this.getRun(userId, runId);
    return { events: await this.deps.events.list(runId, afterSeq), run };
  }

  /**
   * Ends, with a terminal `interrupted` event, every run whose instance is gone (a previous process of this one, or
   * a crashed peer). Another instance may be ending the same run: the unique (run, seq) key lets one of them win.
   */
  recoverOrphans(): Promise<number> {
    this.sweeping ??= this.sweepOrphans().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  /** Looks for orphaned runs every `intervalMs` until shutdown. */
  startOrphanSweeper(intervalMs: number): void {
    this.sweeper = setInterval(() => {
      this.recoverOrphans().then(
        (n) => n > 0 && this.deps.logger.warn({ interrupted: n }, 'ended runs of an instance that is gone'),
        (err: unknown) => this.deps.logger.warn({ err }, 'orphaned run sweep failed'),
      );
    }, intervalMs);
    this.sweeper.unref();
  }

  private async sweepOrphans(): Promise<number> {
    const unfinished = (await this.deps.runs.listUnfinished()).filter(
      (r) => r.instanceId !== this.deps.liveness.instanceId,
    );
    if (unfinished.length === 0) return 0;
    const alive = await this.deps.liveness.alive(
      unfinished.flatMap((r) => (r.instanceId === null ? [] : [r.instanceId])),
    );
    let ended = 0;
    for (const record of unfinished) {
      if (record.instanceId !== null && alive.has(record.instanceId)) continue;
      try {
        await this.interruptOrphan(record);
        ended += 1;
      } catch (err) {
        if (!(err instanceof SeqTakenError)) throw err;
      }
    }
    return ended;
  }

  private async interruptOrphan(record: RunRecord): Promise<void> {
    const events = await this.deps.events.list(record.id, 0);
    let seq = events.at(-1)?.seq ?? 0;
    const ts = new Date(this.deps.now()).toISOString();
    // Another instance's sweep (or the owner itself) ended it after we listed it: only the status may lag.
    const ended = events.length > 0 ? outcomeOf(events[events.length - 1]!) : undefined;
    if (ended !== undefined) return this.deps.runs.finishRun(record.id, ended.status, ended.errorCode, ts);
    const append = async (body: RunEventBody): Promise<void> => {
      const event: RunEvent = { ...body, runId: record.id, threadId: record.threadId, seq: ++seq, ts };
      await this.deps.events.append([event]);
      this.deps.bus.publish(record.userId, event);
    };
    if (seq === 0) await append({ type: 'agent_started' });
    const open = new Map<string, string>();
    for (const e of events) {
      if (e.type === 'tool_executing') open.set(e.toolCallId, e.tool);
      if (e.type === 'tool_completed') open.delete(e.toolCallId);
    }
    for (const [toolCallId, tool] of open) {
      await append({
        type: 'tool_completed',
        toolCallId,
        tool,
        error: { code: 'interrupted', message: 'The server running this tool stopped.' },
        durationMs: 0,
      });
    }
    await append({
      type: 'agent_error',
      code: 'interrupted',
      message: 'The server running this run stopped while it was in progress.',
    });
    await this.deps.runs.finishRun(record.id, 'interrupted', 'interrupted', ts);
  }

  /**
   * Lets runs in progress finish for up to `graceMs`, then stops the rest (`interrupted`) and waits until each has
   * stored its terminal event.
   */
  async shutdown(graceMs = 0): Promise<void> {
    clearInterval(this.sweeper);
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
  }

  get activeCount(): number {
    return this.active.size;
  }

  private async accept(userId: string, input: Submission, onAccepted: (ack: Accepted) => void): Promise<Accepted> {
    // The runs in progress on every instance: the per-user limit and onBusy are decided for the whole cluster.
    const inProgress = await this.inProgress(userId);
    if (inProgress.length >= this.deps.limits.maxPerUser) {
      this.deps.telemetry.rateLimited('runs');
      throw new AppError(
        'too_many_runs',
        `You already have ${inProgress.length} runs in progress (the limit is ${this.deps.limits.maxPerUser}).`,
      );
    }
    const nowIso = new Date(this.deps.now()).toISOString();
    const threadId = input.threadId ?? newId();
    if (input.threadId === undefined) {
      await this.deps.conversations.createThread({
        id: threadId,
        userId,
        title: titleOf(input.text),
        createdAt: nowIso,
        updatedAt: nowIso,
      });
    } else if ((await this.deps.conversations.getThread(userId, input.threadId)) === undefined) {
      if (input.createThread !== true) throw notFound('thread');
      // A refused request creates nothing: check the client's run id before creating its thread.
      if (input.runId !== undefined && (await this.deps.runs.isRunIdTaken(input.runId))) throw notFound('run');
      await this.createClientThread(userId, input.threadId, input.text, nowIso);
    }
    const busy = inProgress.filter((r) => r.threadId === threadId);
    const onBusy = input.onBusy ?? 'enqueue';
    if (busy.length > 0 && onBusy === 'reject')
      throw new AppError('thread_busy', 'This thread already has a run in progress.');
    if (onBusy === 'interrupt') await Promise.all(busy.map((r) => this.interrupt(r.id)));

    const runId = input.runId ?? newId();
    const messageId = newId();
    try {
      await this.deps.runs.createRun({
        id: runId,
        threadId,
        userId,
        status: 'running',
        errorCode: null,
        lastSeq: 0,
        createdAt: nowIso,
        updatedAt: nowIso,
        instanceId: this.deps.liveness.instanceId,
      });
    } catch (err) {
      // A client-minted id that is taken: someone else's run reads as missing, like everywhere else.
      if (input.runId !== undefined && (await this.deps.runs.getRun(userId, runId)) === undefined)
        throw notFound('run');
      throw err;
    }
    await this.deps.conversations.addMessage({
      id: messageId,
      threadId,
      userId,
      role: 'user',
      text: input.text,
      runId,
      createdAt: nowIso,
    });
    const run = new ActiveRun(
      createRunContext({ userId, threadId, runId, connectionId: input.connectionId }),
      this.deps.events,
      this.deps.bus,
      this.deps.now,
      (err, event) => {
        this.deps.logger.error({ err, runId, seq: event.seq }, 'run event could not be stored; stopping the run');
        run.stop('shutdown');
      },
    );
    this.track(run);
    const ack = { threadId, runId };
    onAccepted(ack);
    this.deps.bus.publish(userId, {
      type: 'message_added',
      threadId,
      runId,
      message: { id: messageId, role: 'user', text: input.text, createdAt: nowIso },
    });
    this.queue.enqueue(threadId, run.signal, () =>
      this.execute(run, input.text, messageId, input.threadId === undefined),
    );
    return ack;
  }

  /** Creates a thread under an id the client chose; an id another user holds reads as `not_found`. */
  private async createClientThread(userId: string, threadId: string, text: string, nowIso: string): Promise<void> {
    try {
      await this.deps.conversations.createThread({
        id: threadId,
        userId,
        title: titleOf(text),
        createdAt: nowIso,
        updatedAt: nowIso,
      });
    } catch {
      // Created meanwhile by this user's own concurrent request: fine. Otherwise the id is someone else's.
      if ((await this.deps.conversations.getThread(userId, threadId)) === undefined) throw notFound('thread');
    }
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

  /**
   * The ThreadQueue orders a thread's runs on this instance; this waits for earlier runs of the thread that other
   * instances accepted (runs are ordered by creation). Ends early when the run is cancelled.
   */
  private async waitForEarlierRunsElsewhere(run: ActiveRun): Promise<void> {
    const { userId, threadId, runId } = run.context;
    const own = this.deps.liveness.instanceId;
    while (!this.deps.liveness.alone && !run.signal.aborted) {
      const ofThread = (await this.deps.runs.listActive(userId)).filter((r) => r.threadId === threadId);
      const position = ofThread.findIndex((r) => r.id === runId);
      if (ofThread.slice(0, Math.max(0, position)).every((r) => r.instanceId === own)) return;
      await new Promise((r) => setTimeout(r, THREAD_POLL_MS));
    }
  }

  /** `newThread`: this run created its thread, so there is no history to read. */
  private async execute(run: ActiveRun, text: string, messageId: string, newThread: boolean): Promise<void> {
    const { runId, threadId, userId } = run.context;
    const log = this.deps.logger.child({ runId, threadId, userId });
    await this.waitForEarlierRunsElsewhere(run).catch((err: unknown) =>
      log.warn({ err }, 'could not check for earlier runs on other instances'),
    );
    run.markStarted();
    run.emit({ type: 'agent_started', agent: this.deps.agent.name });
    const timer = setTimeout(() => run.stop('timeout'), this.deps.limits.maxDurationMs);
    let terminal: RunEventBody;
    let status: RunStatus;
    try {
      // Cancelled while queued: end at once, never start the agent.
      run.signal.throwIfAborted();
      const history = newThread
        ? []
        : (await storing(this.deps.conversations.listMessages(userId, threadId)))
            .filter((m) => m.id !== messageId && m.runId !== runId)
            .map((m) => ({ role: m.role, text: m.text }));
      const io = createAgentIO(run, this.deps.tools, this.deps.limits.maxToolCalls, this.deps.now);
      const result = await raceAbort(
        this.deps.agent.run({ context: run.context, text, history, signal: run.signal }, io),
        run.signal,
      );
      terminal = {
        type: 'agent_completed',
        text: result.text,
        durationMs: this.deps.now() - run.startedAt,
        ...(result.usage ? { usage: result.usage } : {}),
      };
      status = 'completed';
      await storing(
        this.deps.conversations.addMessage({
          id: newId(),
          threadId,
          userId,
          role: 'assistant',
          text: result.text,
          runId,
          createdAt: new Date(this.deps.now()).toISOString(),
        }),
      );
    } catch (err) {
      ({ terminal, status } = this.failure(run, err, log));
    } finally {
      clearTimeout(timer);
    }
    try {
      await run.end(terminal);
      await this.deps.runs.finishRun(
        runId,
        status,
        terminal.type === 'agent_error' ? terminal.code : null,
        new Date(this.deps.now()).toISOString(),
      );
    } catch (err) {
      log.error({ err }, 'run could not be finished in storage');
    } finally {
      this.untrack(run);
    }
    const durationMs = this.deps.now() - run.startedAt;
    this.deps.telemetry.runEnded(status, durationMs);
    log.info({ status, events: run.deliveredSeq, durationMs }, 'run ended');
  }

  private failure(run: ActiveRun, err: unknown, log: Logger): { terminal: RunEventBody; status: RunStatus } {
    switch (run.stopReason()) {
      case 'cancelled':
        return { terminal: { type: 'run_cancelled' }, status: 'cancelled' };
      case 'timeout':
        return {
          terminal: {
            type: 'agent_error',
            code: 'run_timeout',
            message: `The run took longer than ${this.deps.limits.maxDurationMs} ms.`,
          },
          status: 'error',
        };
      case 'shutdown':
        return {
          terminal: {
            type: 'agent_error',
            code: 'interrupted',
            message: 'The server stopped while this run was in progress.',
          },
          status: 'interrupted',
        };
      case undefined:
        break;
    }
    if (err instanceof StorageFailure) {
      log.error({ err: err.cause }, 'run could not read or store its conversation');
      return {
        terminal: {
          type: 'agent_error',
          code: 'service_unavailable',
          message: 'The conversation could not be read or stored right now: send the message again shortly.',
        },
        status: 'error',
      };
    }
    if (isAppError(err))
      return { terminal: { type: 'agent_error', code: err.code, message: err.message }, status: 'error' };
    log.error({ err }, 'agent failed');
    return {
      terminal: { type: 'agent_error', code: 'agent_failed', message: 'The agent failed while answering.' },
      status: 'error',
    };
  }

  /**
   * Drops the ids whose window has passed. Every id gets the same window, so the Map is in expiry order and the
   * sweep stops at the first live one: its cost is the expired ids, not all of them. (It used to walk the whole
   * Map on every message once it held 1,024: under load, the top allocator and a cost that grew with traffic.)
   */
  private sweepAccepted(nowMs: number): void {
    for (const [key, entry] of this.accepted) {
      if (entry.expiresAt > nowMs) return;
      this.accepted.delete(key);
    }
  }
}

/** The run's own storage failed (not the agent): the run ends `service_unavailable`, never `agent_failed`. */
class StorageFailure extends Error {
  override readonly name = 'StorageFailure';
}

async function storing<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (err) {
    throw new StorageFailure('conversation storage failed', { cause: err });
  }
}

/** The run status a terminal event stands for; undefined for any other event. */
function outcomeOf(event: RunEvent): { status: RunStatus; errorCode: string | null } | undefined {
  switch (event.type) {
    case 'agent_completed':
      return { status: 'completed', errorCode: null };
    case 'run_cancelled':
      return { status: 'cancelled', errorCode: null };
    case 'agent_error':
      return { status: event.code === 'interrupted' ? 'interrupted' : 'error', errorCode: event.code };
    default:
      return undefined;
  }
}

function titleOf(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}
