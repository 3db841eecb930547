import { isTerminalEvent, type RunEvent } from '../protocol/wire/index.js';

/** One approve() over the socket: settles once the server took it and the run's decision event is in. */
export interface ApprovalWait {
  /** The server took the decision (the ping after approve_tool was answered): resolves once the event is in too. */
  taken(): Promise<void>;
  /** The decision was refused or went another way: stop waiting. */
  drop(): void;
}

interface Waiter {
  seen: boolean;
  release: (() => void) | undefined;
}

/**
 * approve() calls waiting for their run's `tool_approval_resolved`, fed by the tracker's in-order event path: by the
 * time one resolves, iterators and onEvent listeners have the event. The event may come before or after the
 * ping's answer that says the decision was taken, so both are remembered.
 */
export class ApprovalWaits {
  private readonly waiters = new Map<string, Set<Waiter>>();

  expect(runId: string, toolCallId: string): ApprovalWait {
    const key = keyOf(runId, toolCallId);
    const waiter: Waiter = { seen: false, release: undefined };
    const set = this.waiters.get(key) ?? new Set();
    set.add(waiter);
    this.waiters.set(key, set);
    const remove = (): void => {
      set.delete(waiter);
      if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
    };
    return {
      taken: () =>
        waiter.seen
          ? (remove(), Promise.resolve())
          : new Promise<void>((resolve) => {
              waiter.release = () => {
                remove();
                resolve();
              };
            }),
      drop: remove,
    };
  }

  /** Every event the tracker takes in. A terminal event ends the waits of its run: nothing more will come. */
  seen(event: RunEvent): void {
    if (event.type === 'tool_approval_resolved') this.mark(this.waiters.get(keyOf(event.runId, event.toolCallId)));
    else if (isTerminalEvent(event))
      for (const [key, set] of this.waiters) if (key.startsWith(`${event.runId}\u0000`)) this.mark(set);
  }

  /** The events will not come (the client stopped, or the login changed): a decision taken still stands. */
  releaseAll(): void {
    for (const set of this.waiters.values()) this.mark(set);
  }

  private mark(set: Set<Waiter> | undefined): void {
    for (const waiter of [...(set ?? [])]) {
      waiter.seen = true;
      waiter.release?.();
    }
  }
}

function keyOf(runId: string, toolCallId: string): string {
  return `${runId}\u0000${toolCallId}`;
}
