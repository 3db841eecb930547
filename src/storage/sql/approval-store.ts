import type { Kysely, Selectable } from 'kysely';
import { APPROVAL_REASONS, type ApprovalReason } from '../../protocol/index.js';
import type { ApprovalRecord, ApprovalStore, DecideResult } from '../../runs/index.js';
import type { Database } from '../schema.js';

type Row = Selectable<Database['tool_approvals']>;

/** Approvals in SQL (SQLite or PostgreSQL). The first decision wins by an update conditional on `reason IS NULL`. */
export class SqlApprovalStore implements ApprovalStore {
  constructor(private readonly db: Kysely<Database>) {}

  async createApproval(a: Omit<ApprovalRecord, 'decision'>): Promise<void> {
    await this.db
      .insertInto('tool_approvals')
      .values({
        run_id: a.runId,
        tool_call_id: a.toolCallId,
        user_id: a.userId,
        tool: a.tool,
        args: a.args,
        expires_at: a.expiresAt,
      })
      .execute();
  }

  async getApproval(runId: string, toolCallId: string): Promise<ApprovalRecord | undefined> {
    const row = await this.db
      .selectFrom('tool_approvals')
      .selectAll()
      .where('run_id', '=', runId)
      .where('tool_call_id', '=', toolCallId)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async decideApproval(
    runId: string,
    toolCallId: string,
    decision: { readonly approved: boolean; readonly reason: ApprovalReason; readonly at: string },
    userId?: string,
  ): Promise<DecideResult> {
    let update = this.db
      .updateTable('tool_approvals')
      .set({ approved: decision.approved ? 1 : 0, reason: decision.reason, decided_at: decision.at })
      .where('run_id', '=', runId)
      .where('tool_call_id', '=', toolCallId)
      .where('reason', 'is', null);
    if (userId !== undefined) {
      update = update
        .where('user_id', '=', userId)
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('runs')
              .select('runs.id')
              .whereRef('runs.id', '=', 'tool_approvals.run_id')
              .where('runs.status', '=', 'running'),
          ),
        );
    }
    const result = await update.executeTakeFirst();
    if (result.numUpdatedRows > 0n) return 'decided';
    const existing = await this.getApproval(runId, toolCallId);
    return existing === undefined || (userId !== undefined && existing.userId !== userId)
      ? 'not_found'
      : 'already_resolved';
  }

  async listPendingApprovals(userId: string): Promise<ApprovalRecord[]> {
    const rows = await this.db
      .selectFrom('tool_approvals')
      .innerJoin('runs', 'runs.id', 'tool_approvals.run_id')
      .selectAll('tool_approvals')
      .where('tool_approvals.user_id', '=', userId)
      .where('tool_approvals.reason', 'is', null)
      .where('runs.status', '=', 'running')
      .orderBy('tool_approvals.expires_at')
      .execute();
    return rows.map(toRecord);
  }
}

function toRecord(row: Row): ApprovalRecord {
  const reason = APPROVAL_REASONS.find((r) => r === row.reason);
  return {
    runId: row.run_id,
    toolCallId: row.tool_call_id,
    userId: row.user_id,
    tool: row.tool,
    args: row.args,
    expiresAt: row.expires_at,
    decision: reason === undefined ? null : { approved: row.approved === 1, reason },
  };
}
