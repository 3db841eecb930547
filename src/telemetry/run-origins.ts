import type { TraceSpan } from './tracing.js';

/** What caused a run: the HTTP request that started it (its X-Request-Id and span). */
export interface RunOrigin {
  readonly requestId?: string | undefined;
  readonly span?: TraceSpan | undefined;
}

/** Entries past this are dropped oldest first: only a run that never started (a raced retry) leaves one behind. */
const MAX_PENDING = 10_000;

/**
 * Hands a run's origin from the entry point that submits it to the executor that runs it, by run id: the entry
 * point records it before submitting, the executor takes it (get-and-delete) when the run starts. Local to this
 * instance, like the execution of the runs it accepts.
 */
export class RunOrigins {
  readonly #pending = new Map<string, RunOrigin>();

  /** Before submitting the run: the executor may start it before `submit` returns. */
  set(runId: string, origin: RunOrigin): void {
    this.#pending.delete(runId);
    this.#pending.set(runId, origin);
    if (this.#pending.size > MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value!);
  }

  /** The origin of `runId`, once: undefined for runs nothing recorded (those started over the WebSocket). */
  take(runId: string): RunOrigin | undefined {
    const origin = this.#pending.get(runId);
    if (origin !== undefined) this.#pending.delete(runId);
    return origin;
  }

  /** The submission was refused: no run will take it. */
  delete(runId: string): void {
    this.#pending.delete(runId);
  }
}
