import type { Logger } from 'pino';
import type { ToolOutcome } from '../agents/index.js';
import { AppError, notFound } from '../errors/index.js';
import type { ApprovalReason } from '../protocol/index.js';
import type { ActiveRun } from './active-run.js';
import type { ApprovalBus, ApprovalRecord, ApprovalStore } from './ports.js';

export interface ApprovalDecision {
  readonly approved: boolean;
  readonly reason: ApprovalReason;
}

export interface ApprovalGateDeps {
  readonly store: ApprovalStore;
  readonly bus: ApprovalBus;
  /** Whether a tool waits for its user (TOOLS_REQUIRING_APPROVAL, and MCP entries with requireApproval). */
  readonly requires: (tool: string) => boolean;
  readonly timeoutMs: number;
  /** Re-read waiting calls every POLL_MS: needed only when other instances may decide them. */
  readonly poll: boolean;
  readonly logger: Logger;
  readonly now: () => number;
}

/**
 * A waiting call looks at the store this often as well: a bus message lost while Redis reconnected must not leave
 * a decided call waiting until it expires.
 */
const POLL_MS = 5_000;

/**
 * Human approval of tool calls. The waiting run and the person deciding may be on different instances: the
 * decision is a conditional write to the ApprovalStore (so the first decision wins, wherever it was made), then a
 * bus message tells the instance executing the run to read it. The run's own events say what happened
 * (`tool_approval_requested`, `tool_approval_resolved`); only the instance executing the run emits them.
 */
export class ApprovalGate {
  /** Waiting calls of this instance, by run and call: each re-reads its decision when told. */
  private readonly waiting = new Map<string, () => void>();
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: ApprovalGateDeps) {
    this.unsubscribe = deps.bus.subscribe((payload) => {
      const key = keyOfPayload(payload);
      if (key !== undefined) this.waiting.get(key)?.();
    });
  }

  requires(tool: string): boolean {
    return this.deps.requires(tool);
  }

  /**
   * Waits for the user's decision on a call whose tool_executing is out. Emits tool_approval_requested now and
   * tool_approval_resolved when decided, expired or cancelled. A cancel is handled synchronously (before the run's
   * terminal event): the call is then already completed with `cancelled`.
   */
  async wait(run: ActiveRun, toolCallId: string, tool: string, args: unknown): Promise<ApprovalDecision> {
    const { store, now, timeoutMs, logger } = this.deps;
    const { runId, userId } = run.context;
    run.signal.throwIfAborted();
    const expiresAt = new Date(now() + timeoutMs).toISOString();
    try {
      await store.createApproval({ runId, toolCallId, userId, tool, args: JSON.stringify(args ?? null), expiresAt });
    } catch (err) {
      throw new AppError('service_unavailable', 'The approval request could not be stored right now.', { cause: err });
    }
    run.approvalRequested({ toolCallId, tool, args, expiresAt });
    const release = run.holdDeadline();
    const key = keyOf(runId, toolCallId);
    return new Promise<ApprovalDecision>((resolve) => {
      let settled = false;
      const finish = (decision: ApprovalDecision): void => {
        if (settled) return;
        settled = true;
        clearTimeout(expiry);
        clearInterval(poll);
        run.signal.removeEventListener('abort', onAbort);
        this.waiting.delete(key);
        release();
        run.approvalResolved(toolCallId, decision.approved, decision.reason);
        resolve(decision);
      };
      const check = (): void => {
        store.getApproval(runId, toolCallId).then(
          (record) => record?.decision && finish(record.decision),
          (err: unknown) => logger.warn({ err, runId, toolCallId }, 'approval could not be read'),
        );
      };
      const decideNow = (decision: ApprovalDecision): Promise<void> =>
        store
          .decideApproval(runId, toolCallId, { ...decision, at: new Date(now()).toISOString() })
          .then((result) => (result === 'decided' ? finish(decision) : check()));
      const onAbort = (): void => {
        finish({ approved: false, reason: 'cancelled' });
        run.completeToolCall(toolCallId, refusal('cancelled'));
        decideNow({ approved: false, reason: 'cancelled' }).catch((err: unknown) =>
          logger.warn({ err, runId, toolCallId }, 'cancelled approval could not be recorded'),
        );
      };
      // Refusing is the safe default: a store that cannot record the expiry still ends the wait.
      const expiry = setTimeout(() => {
        decideNow({ approved: false, reason: 'expired' }).catch((err: unknown) => {
          logger.warn({ err, runId, toolCallId }, 'expired approval could not be recorded');
          finish({ approved: false, reason: 'expired' });
        });
      }, timeoutMs);
      const poll = this.deps.poll ? setInterval(check, POLL_MS) : undefined;
      this.waiting.set(key, check);
      run.signal.addEventListener('abort', onAbort, { once: true });
      // Aborted while the request was being stored: the listener came too late to hear it.
      if (run.signal.aborted) onAbort();
    });
  }

  /**
   * A person's decision, from any instance: the first one wins. `not_found` for another user's run or an unknown
   * call, `already_resolved` once decided (also after the run ended).
   */
  async decide(userId: string, runId: string, toolCallId: string, approved: boolean): Promise<void> {
    const at = new Date(this.deps.now()).toISOString();
    const result = await this.deps.store
      .decideApproval(runId, toolCallId, { approved, reason: 'user', at }, userId)
      .catch((err: unknown) => {
        throw new AppError('service_unavailable', 'The decision could not be stored right now: send it again.', {
          cause: err,
        });
      });
    if (result === 'not_found') throw notFound('tool call awaiting approval');
    if (result === 'already_resolved')
      throw new AppError('already_resolved', 'This tool call was already decided (the first decision wins).');
    const local = this.waiting.get(keyOf(runId, toolCallId));
    if (local !== undefined) return local();
    // The decision is stored: a lost message only delays it until the waiting instance polls.
    await this.deps.bus
      .publish(JSON.stringify({ runId, toolCallId }))
      .catch((err: unknown) => this.deps.logger.warn({ err, runId }, 'approval could not be announced'));
  }

  /** The user's calls waiting for approval on any instance, by run. */
  async pendingOf(userId: string): Promise<Map<string, ApprovalRecord[]>> {
    const byRun = new Map<string, ApprovalRecord[]>();
    for (const approval of await this.deps.store.listPendingApprovals(userId)) {
      const list = byRun.get(approval.runId) ?? [];
      list.push(approval);
      byRun.set(approval.runId, list);
    }
    return byRun;
  }

  close(): void {
    this.unsubscribe();
  }
}

/** The error a call that was not approved ends with: the model reads it (unless the run was cancelled). */
export function refusal(reason: ApprovalReason): ToolOutcome {
  switch (reason) {
    case 'user':
      return { ok: false, error: { code: 'approval_denied', message: 'The user denied this tool call.' } };
    case 'expired':
      return {
        ok: false,
        error: { code: 'approval_expired', message: 'Nobody approved this tool call in time, so it did not run.' },
      };
    case 'cancelled':
      return { ok: false, error: { code: 'cancelled', message: 'The run ended before the tool call was decided.' } };
  }
}

/**
 * TOOLS_REQUIRING_APPROVAL's patterns as a predicate: exact names, `*` matching any run of characters
 * (`files__*`, `*`).
 */
export function toolPatterns(patterns: readonly string[]): (tool: string) => boolean {
  const compiled = patterns.map((p) => new RegExp(`^${p.split('*').map(escapeRegExp).join('.*')}$`));
  return (tool) => compiled.some((re) => re.test(tool));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function keyOf(runId: string, toolCallId: string): string {
  return `${runId}\u0000${toolCallId}`;
}

function keyOfPayload(payload: string): string | undefined {
  try {
    const { runId, toolCallId } = JSON.parse(payload) as { runId?: unknown; toolCallId?: unknown };
    return typeof runId === 'string' && typeof toolCallId === 'string' ? keyOf(runId, toolCallId) : undefined;
  } catch {
    return undefined;
  }
}
