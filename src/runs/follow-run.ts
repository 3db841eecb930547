import { isTerminalEvent, type RunEvent } from '../protocol/index.js';
import type { UserEventBus } from './ports.js';
import { RunDelivery } from './run-delivery.js';
import type { RunHistory } from './run-history.js';

/** Where a followed run's events go. */
export interface RunSink {
  event(event: RunEvent): void;
  /** The run has ended (its terminal event was sent, or it had ended before anything after afterSeq). */
  end(): void;
}

/**
 * Streams one run of the user to one consumer (an SSE response): its stored events after `afterSeq`, then live ones,
 * each seq once and in order, until the terminal event. The same replay-then-live hand-over as a WebSocket resume.
 * Throws `not_found` before streaming anything when the run is not the user's. Returns a stop function.
 */
export async function followRun(
  deps: {
    readonly history: RunHistory;
    /** Called when the bus may have dropped messages (besides the gap refill this does itself). */
    readonly onResync?: () => void;
    readonly bus: UserEventBus;
    readonly logger: { warn(details: object, message: string): void };
  },
  userId: string,
  runId: string,
  afterSeq: number,
  sink: RunSink,
): Promise<() => void> {
  await deps.history.getRun(userId, runId);
  let done = false;
  const readLog = async (id: string, after: number) => (await deps.history.eventsAfter(userId, id, after)).events;
  const delivery = new RunDelivery(
    (event) => {
      if (done) return;
      sink.event(event);
      if (isTerminalEvent(event)) finish();
    },
    readLog,
    (err) => deps.logger.warn({ err, runId }, 'could not re-read run events to fill a gap'),
  );
  const subscription = deps.bus.subscribe(userId, {
    message: (m) => {
      if ('seq' in m && m.runId === runId) delivery.live(m);
    },
    resync: () => {
      delivery.resync();
      deps.onResync?.();
    },
  });
  function finish(): void {
    if (done) return;
    done = true;
    subscription.unsubscribe();
    sink.end();
  }
  try {
    await subscription.ready;
    delivery.beginReplay(runId, afterSeq);
    const { events, run } = await deps.history.eventsAfter(userId, runId, afterSeq);
    delivery.finishReplay(runId, events);
    // Ended before anything after afterSeq (or without a stored terminal event): nothing more will come.
    if (run.status !== 'running') finish();
  } catch (err) {
    subscription.unsubscribe();
    done = true;
    throw err;
  }
  return () => {
    if (done) return;
    done = true;
    subscription.unsubscribe();
  };
}
