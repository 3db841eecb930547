import { isTerminalEvent, type ActiveRun, type RunEvent } from '../protocol/wire/index.js';
import { ClientError } from './errors.js';
import type { RunHandleImpl } from './run-handle.js';

/** How many finished runs keep their events in memory (for follow()); older ones are read over HTTP again. */
const FINISHED_RUNS_KEPT = 50;

interface TrackedRun {
  readonly runId: string;
  threadId: string | undefined;
  /** The highest seq taken in: every seq from historyFrom + 1 up to it is in `events`. */
  lastSeq: number;
  /** Seqs at or below this were never held (the run was first followed from there). */
  readonly historyFrom: number;
  readonly events: RunEvent[];
  finished: boolean;
  readonly handles: Set<RunHandleImpl>;
  /** A resume is on its way: events after a gap are dropped until it answers (its replay brings them). */
  resuming: boolean;
}

export type ResumeOutcome = 'sent' | 'later' | 'never';

export interface RunTrackerDeps {
  /** Delivers one new event to the client's onEvent listeners. */
  readonly emit: (event: RunEvent) => void;
  /** Sends `resume`: 'later' when a connection is being made (it resumes every unfinished run), 'never' when none will. */
  readonly resume: (runId: string, afterSeq: number) => ResumeOutcome;
  /** GET /runs/:id/events?after= */
  readonly fetchEvents: (runId: string, after: number) => Promise<RunEvent[]>;
}

/**
 * Every run this client has seen, and the one path all their events take in: each (runId, seq) is taken once and
 * in order. A duplicate (a replay's overlap with live traffic) is dropped; an event past a gap is dropped too and
 * the gap is filled by a resume from the last seq held, since every event is stored before it is sent.
 */
export class RunTracker {
  private readonly runs = new Map<string, TrackedRun>();
  /** Runs that ended, oldest first; only the last FINISHED_RUNS_KEPT keep their events. */
  private readonly finishedOrder: string[] = [];
  private readonly ended = new Set<string>();

  constructor(private readonly deps: RunTrackerDeps) {}

  ingest(event: RunEvent): void {
    let run = this.runs.get(event.runId);
    if (run === undefined) {
      if (this.ended.has(event.runId)) return;
      run = this.track(event.runId, 0);
    }
    run.threadId ??= event.threadId;
    if (event.seq <= run.lastSeq || run.finished) return;
    if (event.seq !== run.lastSeq + 1) return this.resume(run);
    run.lastSeq = event.seq;
    run.events.push(event);
    if (isTerminalEvent(event)) this.retire(run);
    this.deps.emit(event);
    for (const handle of run.handles) {
      handle.offer(event);
      if (handle.settled) run.handles.delete(handle);
    }
  }

  /** Runs a new connection reports still in progress: unknown ones are followed from their first event. */
  noteActive(activeRuns: readonly ActiveRun[]): void {
    for (const active of activeRuns) {
      if (this.runs.has(active.runId) || this.ended.has(active.runId)) continue;
      this.track(active.runId, 0).threadId = active.threadId;
    }
  }

  /** What a new connection must resume: every run not known to have ended, from the last seq held. */
  unfinished(): Array<{ runId: string; afterSeq: number }> {
    return [...this.runs.values()].filter((r) => !r.finished).map((r) => ({ runId: r.runId, afterSeq: r.lastSeq }));
  }

  threadOf(runId: string): string | undefined {
    return this.runs.get(runId)?.threadId;
  }

  /** The connection went away: resumes in flight are void (the next connection resumes everything unfinished). */
  connectionLost(): void {
    for (const run of this.runs.values()) run.resuming = false;
  }

  /** The server answered `resumed`: everything it had is in. */
  resumed(runId: string, finished: boolean): void {
    const run = this.runs.get(runId);
    if (run === undefined) return;
    run.resuming = false;
    if (finished && !run.finished) {
      // Ended without a stored terminal event (its instance died before orphan recovery): nothing more will come.
      this.retire(run);
      for (const handle of run.handles)
        handle.fail(new ClientError('interrupted', 'The run ended without a terminal event.'));
      run.handles.clear();
    }
  }

  /** `resume` was refused (not_found: no such run, or not this user's). */
  resumeRefused(runId: string, error: ClientError): void {
    const run = this.runs.get(runId);
    if (run === undefined) return;
    this.runs.delete(runId);
    for (const handle of run.handles) handle.fail(error);
  }

  /** A run this client started was accepted: `handle` follows it from its first event. */
  accepted(handle: RunHandleImpl, ack: { runId: string; threadId: string }, sentBefore: boolean): void {
    const known = this.runs.get(ack.runId);
    const run = known ?? (this.ended.has(ack.runId) ? undefined : this.track(ack.runId, 0));
    if (run !== undefined) run.threadId ??= ack.threadId;
    // A repeat of a message first sent on an earlier connection: its run may have gone on (or ended) unseen.
    if (run !== undefined && known === undefined && sentBefore) this.resume(run);
    this.attach(ack.runId, run, handle);
  }

  /** follow(): `handle` wants the run's events after its afterSeq, held ones first, then live. */
  follow(runId: string, afterSeq: number, handle: RunHandleImpl): void {
    let run = this.runs.get(runId);
    if (run === undefined && !this.ended.has(runId)) {
      run = this.track(runId, afterSeq);
      this.resume(run);
    }
    this.attach(runId, run, handle);
  }

  /** Fails the handles of unfinished runs (the connection will not come back); the runs stay known for later. */
  failHandles(error: ClientError): void {
    for (const run of this.runs.values()) {
      for (const handle of run.handles) handle.fail(error);
      run.handles.clear();
    }
  }

  private attach(runId: string, run: TrackedRun | undefined, handle: RunHandleImpl): void {
    if (run?.threadId !== undefined) handle.accept({ runId, threadId: run.threadId });
    for (const event of run?.events ?? []) handle.offer(event);
    if (handle.settled) return;
    run?.handles.add(handle);
    const heldFrom = run?.historyFrom ?? Infinity;
    if (handle.lastSeq < heldFrom) {
      // The run was first seen after the seqs this handle wants (or its events were let go): read them back.
      this.deps.fetchEvents(runId, handle.lastSeq).then(
        (events) => {
          for (const event of events) if (event.seq <= heldFrom) handle.offer(event);
          if (run === undefined) run = this.runs.get(runId);
          if (run !== undefined) for (const event of run.events) handle.offer(event);
        },
        (err: unknown) =>
          handle.fail(
            err instanceof ClientError
              ? err
              : new ClientError('network_error', 'Could not read the run events.', { cause: err }),
          ),
      );
    }
  }

  private track(runId: string, from: number): TrackedRun {
    const run: TrackedRun = {
      runId,
      threadId: undefined,
      lastSeq: from,
      historyFrom: from,
      events: [],
      finished: false,
      handles: new Set(),
      resuming: false,
    };
    this.runs.set(runId, run);
    return run;
  }

  private resume(run: TrackedRun): void {
    if (run.resuming) return;
    const outcome = this.deps.resume(run.runId, run.lastSeq);
    if (outcome === 'sent') run.resuming = true;
    if (outcome !== 'never') return;
    // No connection is coming: read what is stored (a finished run completes this way).
    this.deps.fetchEvents(run.runId, run.lastSeq).then(
      (events) => events.forEach((e) => this.ingest(e)),
      (err: unknown) => {
        const error =
          err instanceof ClientError
            ? err
            : new ClientError('network_error', 'Could not read the run events.', { cause: err });
        for (const handle of run.handles) handle.fail(error);
      },
    );
  }

  private retire(run: TrackedRun): void {
    run.finished = true;
    this.ended.add(run.runId);
    this.finishedOrder.push(run.runId);
    while (this.finishedOrder.length > FINISHED_RUNS_KEPT) {
      const oldest = this.finishedOrder.shift();
      if (oldest !== undefined) this.runs.delete(oldest);
    }
  }
}
