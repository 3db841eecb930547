import type { Logger } from 'pino';
import { outcomeOf, type RunEvent, type RunEventBody } from '../protocol/index.js';
import {
  SeqTakenError,
  type EventLog,
  type InstanceLiveness,
  type RunRecord,
  type RunStore,
  type UserEventBus,
} from './ports.js';

export interface OrphanRecoveryDeps {
  readonly runs: RunStore;
  readonly events: EventLog;
  readonly bus: UserEventBus;
  readonly liveness: InstanceLiveness;
  readonly logger: Logger;
  readonly now: () => number;
}

/**
 * Ends, with a terminal `interrupted` event, every run whose instance is gone (a previous process of this one, or
 * a crashed peer). Another instance may be ending the same run: the unique (run, seq) key lets one of them win.
 */
export class OrphanRecovery {
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(private readonly deps: OrphanRecoveryDeps) {}

  /** Ends the orphaned runs now; concurrent calls share one sweep. Resolves to how many this instance ended. */
  recover(): Promise<number> {
    this.sweeping ??= this.sweep().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  /** Looks for orphaned runs every `intervalMs` until stop(). */
  start(intervalMs: number): void {
    this.sweeper = setInterval(() => {
      this.recover().then(
        (n) => n > 0 && this.deps.logger.warn({ interrupted: n }, 'ended runs of an instance that is gone'),
        (err: unknown) => this.deps.logger.warn({ err }, 'orphaned run sweep failed'),
      );
    }, intervalMs);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
  }

  private async sweep(): Promise<number> {
    const { runs, liveness } = this.deps;
    const unfinished = (await runs.listUnfinished()).filter((r) => r.instanceId !== liveness.instanceId);
    if (unfinished.length === 0) return 0;
    const alive = await liveness.alive(unfinished.flatMap((r) => (r.instanceId === null ? [] : [r.instanceId])));
    let ended = 0;
    for (const record of unfinished) {
      if (record.instanceId !== null && alive.has(record.instanceId)) continue;
      try {
        await this.interrupt(record);
        ended += 1;
      } catch (err) {
        if (!(err instanceof SeqTakenError)) throw err;
      }
    }
    return ended;
  }

  private async interrupt(record: RunRecord): Promise<void> {
    const { runs, events: log, bus } = this.deps;
    const events = await log.list(record.id, 0);
    let seq = events.at(-1)?.seq ?? 0;
    const ts = new Date(this.deps.now()).toISOString();
    // Another instance's sweep (or the owner itself) ended it after we listed it: only the status may lag.
    const last = events.at(-1);
    const ended = last === undefined ? undefined : outcomeOf(last);
    if (ended !== undefined) return runs.finishRun(record.id, ended.status, ended.errorCode, ts);
    const append = async (body: RunEventBody): Promise<void> => {
      const event: RunEvent = { ...body, runId: record.id, threadId: record.threadId, seq: ++seq, ts };
      await log.append([event]);
      bus.publish(record.userId, event);
    };
    if (seq === 0) await append({ type: 'agent_started' });
    for (const [toolCallId, tool] of unansweredToolCalls(events)) {
      await append({
        type: 'tool_completed',
        toolCallId,
        tool,
        error: { code: 'interrupted', message: 'The server running this tool stopped.' },
        durationMs: 0,
      });
    }
    const terminal: RunEventBody = {
      type: 'agent_error',
      code: 'interrupted',
      message: 'The server running this run stopped while it was in progress.',
    };
    await append(terminal);
    const { status, errorCode } = outcomeOf(terminal)!;
    await runs.finishRun(record.id, status, errorCode, ts);
  }
}

/** tool_executing events without their tool_completed, by toolCallId. */
function unansweredToolCalls(events: readonly RunEvent[]): Map<string, string> {
  const open = new Map<string, string>();
  for (const e of events) {
    if (e.type === 'tool_executing') open.set(e.toolCallId, e.tool);
    if (e.type === 'tool_completed') open.delete(e.toolCallId);
  }
  return open;
}
