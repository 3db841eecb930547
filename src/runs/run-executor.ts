import type { Logger } from 'pino';
import { raceAbort, type Agent, type ToolRegistry } from '../agents/index.js';
import { isAppError } from '../errors/index.js';
import { outcomeOf, type RunEventBody } from '../protocol/index.js';
import { noTracing, type RunOrigins, type Telemetry, type Tracing } from '../telemetry/index.js';
import type { ActiveRun } from './active-run.js';
import { createAgentIO } from './agent-io.js';
import type { ApprovalGate } from './approvals.js';
import { newId } from './ids.js';
import { historyWithin, type HistoryWindow } from './history-window.js';
import type { ThreadCaps } from './threads.js';
import { untilStored } from './until-stored.js';
import type { ConversationStore, InstanceLiveness, RunStore } from './ports.js';

interface RunLimits extends ThreadCaps, HistoryWindow {
  readonly maxPerUser: number;
  readonly maxDurationMs: number;
  readonly maxToolCalls: number;
  readonly startsPerMinute: number;
}

export interface RunExecutorDeps {
  readonly conversations: ConversationStore;
  readonly runs: RunStore;
  readonly liveness: InstanceLiveness;
  readonly agent: Agent;
  readonly tools: ToolRegistry;
  readonly approvals: ApprovalGate;
  readonly limits: RunLimits;
  readonly telemetry: Telemetry;
  /** A span per run, the parent of its model and tool calls' spans; omitted: none. */
  readonly tracing?: Tracing | undefined;
  /** What started each run over HTTP (request id, span), recorded by the route before it submits the run. */
  readonly origins?: RunOrigins | undefined;
  readonly logger: Logger;
  readonly now: () => number;
}

/** What the agent answers: the user's message, stored under `messageId`. */
interface RunInput {
  readonly text: string;
  readonly messageId: string;
  /** The run created its thread, so there is no history to read. */
  readonly newThread: boolean;
  /** The client's id of the message (`user_message.id`), for the run's logs. */
  readonly clientMessageId?: string | undefined;
}

/** How often a run waiting for an earlier run of its thread on another instance looks again. */
const THREAD_POLL_MS = 100;

/**
 * Executes one accepted run: agent_started, the agent with its tools under the run's limits, then exactly one
 * terminal event and the stored status that event stands for (outcomeOf). Never throws: every failure becomes the
 * terminal event, with a stable code.
 */
export class RunExecutor {
  constructor(private readonly deps: RunExecutorDeps) {}

  async execute(run: ActiveRun, input: RunInput): Promise<void> {
    const { runId, threadId, userId, connectionId } = run.context;
    const { agent, conversations, limits, now, tracing = noTracing } = this.deps;
    const origin = this.deps.origins?.take(runId);
    // A run started over HTTP continues its request's trace; one started over a socket begins its own.
    const span = tracing.start(
      `invoke_agent ${agent.name}`,
      'internal',
      {
        'gen_ai.operation.name': 'invoke_agent',
        'gen_ai.agent.name': agent.name,
        'gen_ai.conversation.id': threadId,
        'agentgate.run.id': runId,
        'user.id': userId,
      },
      origin?.span,
    );
    // The agent and its tools get the frozen context: their model and tool calls find the run's span by it.
    tracing.attach(run.context, span);
    // What caused the run, in every line it logs: the HTTP request (requestId) or the socket (connectionId) and the
    // client's message id.
    const fields = {
      runId,
      threadId,
      userId,
      ...(origin?.requestId === undefined ? {} : { requestId: origin.requestId }),
      ...(connectionId === null ? {} : { connectionId }),
      ...(input.clientMessageId === undefined ? {} : { clientMessageId: input.clientMessageId }),
      ...(span.traceId === undefined ? {} : { traceId: span.traceId }),
    };
    // Made only for a run with something to report: most runs log one line, at their end, with the same fields.
    let child: Logger | undefined;
    const log = (): Logger => (child ??= this.deps.logger.child(fields));
    await this.waitForEarlierRunsElsewhere(run).catch((err: unknown) =>
      log().warn({ err }, 'could not check for earlier runs on other instances'),
    );
    run.markStarted();
    // Sent once what the agent needs is read, so it is stored with the agent's first events (one write, not two);
    // a run that ends before then still begins with it.
    let started = false;
    const start = (): void => {
      if (started) return;
      started = true;
      run.emit({ type: 'agent_started', agent: agent.name });
    };
    run.startDeadline(limits.maxDurationMs);
    let terminal: RunEventBody;
    let reported: { readonly state: unknown } | undefined;
    try {
      // Cancelled while queued: end at once, never start the agent.
      run.signal.throwIfAborted();
      const history = input.newThread
        ? []
        : historyWithin(
            limits,
            // The run's own message is stored too: one more than the window, and it is left out.
            (
              await storing(conversations.listMessages(userId, threadId, { limit: limits.historyMessages + 1 }))
            ).items.filter((m) => m.id !== input.messageId && m.runId !== runId),
          );
      const state = agent.usesThreadState === true && !input.newThread ? await this.threadState(run) : undefined;
      const io = createAgentIO(run, {
        tools: this.deps.tools,
        maxToolCalls: limits.maxToolCalls,
        approvals: this.deps.approvals,
        onState: (next) => (reported = { state: next }),
      });
      const request = { context: run.context, text: input.text, messageId: input.messageId, history, state };
      start();
      const result = await raceAbort(agent.run({ ...request, signal: run.signal }, io), run.signal);
      terminal = {
        type: 'agent_completed',
        text: result.text,
        durationMs: now() - run.startedAt,
        ...(result.usage ? { usage: result.usage } : {}),
      };
      if (result.usage) {
        this.deps.telemetry.modelTokens(result.usage.inputTokens, result.usage.outputTokens);
        span.set({
          'gen_ai.usage.input_tokens': result.usage.inputTokens,
          'gen_ai.usage.output_tokens': result.usage.outputTokens,
        });
      }
      const answer = { id: newId(), threadId, userId, role: 'assistant', text: result.text, runId } as const;
      await storing(conversations.addMessage({ ...answer, createdAt: new Date(now()).toISOString() }));
    } catch (err) {
      start();
      terminal = this.failure(run, err, log());
    } finally {
      run.clearDeadline();
    }
    const { status, errorCode } = outcomeOf(terminal)!;
    await run.end(terminal);
    if (reported !== undefined) await this.storeThreadState(run, reported.state, log());
    // The status follows the log: only a run whose terminal event is stored is finished (else orphan recovery ends
    // it later, log and status together). Retried while storage is down, like the terminal event itself.
    const finished =
      run.endStored &&
      (await untilStored(() => this.deps.runs.finishRun(runId, status, errorCode, new Date(now()).toISOString())));
    if (!finished) log().error({ status }, 'run could not be finished in storage: left to orphan recovery');
    const durationMs = now() - run.startedAt;
    this.deps.telemetry.runEnded(status, durationMs);
    span.set({ 'agentgate.run.status': status });
    // A cancel is what the user asked for, not a failure.
    if (errorCode !== null && status !== 'cancelled') span.fail(errorCode);
    span.end();
    this.deps.logger.info({ ...fields, status, events: run.deliveredSeq, durationMs }, 'run ended');
  }

  /**
   * The ThreadQueue orders a thread's runs on this instance; this waits for earlier runs of the thread that other
   * instances accepted (runs are ordered by creation). Ends early when the run is cancelled.
   */
  /** The state the thread's last run left (AG-UI agents), undefined when none did. */
  private async threadState(run: ActiveRun): Promise<unknown> {
    const { userId, threadId } = run.context;
    const stored = (await storing(this.deps.conversations.getThread(userId, threadId)))?.agentState ?? null;
    return stored === null ? undefined : (JSON.parse(stored) as unknown);
  }

  /** Kept even when the run failed: the agent's state events were stored, so the thread's state is what they say. */
  private async storeThreadState(run: ActiveRun, state: unknown, log: Logger): Promise<void> {
    const { userId, threadId } = run.context;
    await this.deps.conversations
      .setThreadState(userId, threadId, JSON.stringify(state ?? null))
      .catch((err: unknown) => log.error({ err }, "the thread's agent state could not be stored"));
  }

  private async waitForEarlierRunsElsewhere(run: ActiveRun): Promise<void> {
    const { userId, threadId, runId } = run.context;
    const { liveness } = this.deps;
    while (!liveness.alone && !run.signal.aborted) {
      const ofThread = (await this.deps.runs.listActive(userId)).filter((r) => r.threadId === threadId);
      const position = ofThread.findIndex((r) => r.id === runId);
      if (ofThread.slice(0, Math.max(0, position)).every((r) => r.instanceId === liveness.instanceId)) return;
      await new Promise((r) => setTimeout(r, THREAD_POLL_MS));
    }
  }

  /** The terminal event for a run that did not complete: why it was stopped, else what failed. */
  private failure(run: ActiveRun, err: unknown, log: Logger): RunEventBody {
    switch (run.stopReason()) {
      case 'cancelled':
        return { type: 'run_cancelled' };
      case 'timeout':
        return {
          type: 'agent_error',
          code: 'run_timeout',
          message: `The run took longer than ${this.deps.limits.maxDurationMs} ms.`,
        };
      case 'shutdown':
        return {
          type: 'agent_error',
          code: 'interrupted',
          message: 'The server stopped while this run was in progress.',
        };
      case 'storage':
        return {
          type: 'agent_error',
          code: 'service_unavailable',
          message: "The run's events could not be stored right now, so it was stopped: send the message again shortly.",
        };
      case undefined:
        break;
    }
    if (err instanceof StorageFailure) {
      log.error({ err: err.cause }, 'run could not read or store its conversation');
      return {
        type: 'agent_error',
        code: 'service_unavailable',
        message: 'The conversation could not be read or stored right now: send the message again shortly.',
      };
    }
    if (isAppError(err)) return { type: 'agent_error', code: err.code, message: err.message };
    log.error({ err }, 'agent failed');
    return { type: 'agent_error', code: 'agent_failed', message: 'The agent failed while answering.' };
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
