import { notFound } from '../errors/index.js';
import type { RunEvent } from '../protocol/index.js';
import type { EventLog, RunRecord, RunStore } from './ports.js';

/**
 * The stored runs of a user and their events, for HTTP reads, resume and streams. Every read is scoped by owner:
 * another user's run is `not_found`, exactly like a missing one.
 */
export class RunHistory {
  constructor(private readonly deps: { readonly runs: RunStore; readonly events: EventLog }) {}

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

  /** Stored events after `afterSeq`, for replay, with the run they belong to. Checks ownership first. */
  async eventsAfter(userId: string, runId: string, afterSeq: number): Promise<{ events: RunEvent[]; run: RunRecord }> {
    const run = await this.getRun(userId, runId);
    return { events: await this.deps.events.list(runId, afterSeq), run };
  }
}
