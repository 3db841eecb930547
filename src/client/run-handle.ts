import { isTerminalEvent, type RunEvent } from '../protocol/wire/index.js';
import type { ClientError } from './errors.js';
import type { RunHandle, TerminalEvent } from './types.js';

/**
 * One run as seen by its caller: the events with seq > `afterSeq`, each once and in seq order whatever order or
 * how many times they are offered, ending after the terminal event. Every iterator replays from the first event.
 */
export class RunHandleImpl implements RunHandle {
  readonly accepted: Promise<{ runId: string; threadId: string }>;
  readonly done: Promise<TerminalEvent>;
  runId: string | undefined;
  private settleAccepted!: {
    resolve: (ack: { runId: string; threadId: string }) => void;
    reject: (err: ClientError) => void;
  };
  private settleDone!: { resolve: (e: TerminalEvent) => void; reject: (err: ClientError) => void };
  private readonly events: RunEvent[] = [];
  /** Events that arrived ahead of a gap, by seq. */
  private readonly early = new Map<number, RunEvent>();
  private cursor: number;
  private finished = false;
  private failure: ClientError | undefined;
  private waiting: Array<() => void> = [];

  constructor(
    afterSeq: number,
    private readonly onCancel: (handle: RunHandleImpl) => Promise<void>,
  ) {
    this.cursor = afterSeq;
    this.accepted = new Promise((resolve, reject) => (this.settleAccepted = { resolve, reject }));
    this.done = new Promise((resolve, reject) => (this.settleDone = { resolve, reject }));
    // A caller that only iterates must not get unhandled rejections from the promises it ignores.
    this.accepted.catch(() => {});
    this.done.catch(() => {});
  }

  /** True once the terminal event was delivered or the handle failed. */
  get settled(): boolean {
    return this.finished || this.failure !== undefined;
  }

  get lastSeq(): number {
    return this.cursor;
  }

  accept(ack: { runId: string; threadId: string }): void {
    this.runId = ack.runId;
    this.settleAccepted.resolve({ runId: ack.runId, threadId: ack.threadId });
  }

  offer(event: RunEvent): void {
    if (this.settled || event.seq <= this.cursor) return;
    // follow() handles learn their thread from the first event.
    if (this.runId === undefined) this.accept(event);
    if (event.seq !== this.cursor + 1) return void this.early.set(event.seq, event);
    let next: RunEvent | undefined = event;
    while (next !== undefined && !this.finished) {
      this.early.delete(next.seq);
      this.events.push(next);
      this.cursor = next.seq;
      if (isTerminalEvent(next)) {
        this.finished = true;
        this.early.clear();
        this.settleDone.resolve(next as TerminalEvent);
      }
      next = this.early.get(this.cursor + 1);
    }
    this.wakeAll();
  }

  fail(err: ClientError): void {
    if (this.settled) return;
    this.failure = err;
    this.settleAccepted.reject(err);
    this.settleDone.reject(err);
    this.wakeAll();
  }

  cancel(): Promise<void> {
    return this.settled ? Promise.resolve() : this.onCancel(this);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<RunEvent> {
    let i = 0;
    for (;;) {
      const event = this.events[i];
      if (event !== undefined) {
        i += 1;
        yield event;
        continue;
      }
      if (this.finished) return;
      if (this.failure !== undefined) throw this.failure;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private wakeAll(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }
}
