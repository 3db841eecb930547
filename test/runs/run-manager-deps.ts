import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { pino } from 'pino';
import { OfflineAgent, ToolRegistry } from '../../src/agents/index.js';
import { ApprovalGate, Capacity, type RunManagerDeps } from '../../src/runs/index.js';
import {
  FlexibleAttemptLimiter,
  MemoryBroadcast,
  MemoryMessageIdStore,
  MemoryUserEventBus,
  SoleInstanceLiveness,
  SqlApprovalStore,
  SqlConversationStore,
  SqlEventLog,
  SqlUserStore,
  type Database,
} from '../../src/storage/index.js';
import { noTelemetry } from '../../src/telemetry/index.js';

export const TEST_RUN_LIMITS: RunManagerDeps['limits'] = {
  maxPerUser: 5,
  maxDurationMs: 60_000,
  maxToolCalls: 5,
  startsPerMinute: 10_000,
  maxThreadsPerUser: 10_000,
  maxMessagesPerThread: 10_000,
  historyMessages: 100,
  historyChars: 100_000,
};

/** A user stored on this database (runs, threads and messages need one): its id. */
export async function storedUser(
  db: Kysely<Database>,
  options: { readonly id?: string; readonly createdAt?: string } = {},
): Promise<string> {
  const id = options.id ?? randomUUID();
  await new SqlUserStore(db).create({
    id,
    email: `${id}@example.com`,
    passwordHash: 'x',
    displayName: null,
    isDemo: false,
    createdAt: options.createdAt ?? new Date().toISOString(),
    disabledAt: null,
  });
  return id;
}

/** A RunManager's dependencies on one database, with memory for the rest and the offline agent; override any. */
export function runManagerDeps(db: Kysely<Database>, overrides: Partial<RunManagerDeps> = {}): RunManagerDeps {
  const conversations = new SqlConversationStore(db);
  return {
    conversations,
    runs: conversations,
    events: new SqlEventLog(db),
    bus: new MemoryUserEventBus(),
    runControl: new MemoryBroadcast(),
    liveness: new SoleInstanceLiveness(randomUUID()),
    messageIds: new MemoryMessageIdStore(),
    agent: new OfflineAgent(),
    tools: new ToolRegistry([]),
    approvals: new ApprovalGate({
      store: new SqlApprovalStore(db),
      bus: new MemoryBroadcast(),
      requires: () => false,
      poll: false,
      timeoutMs: 60_000,
      logger: pino({ level: 'silent' }),
      now: Date.now,
    }),
    runStarts: FlexibleAttemptLimiter.fixedWindow({ points: 10_000, durationSeconds: 60, keyPrefix: 'run-start' }),
    limits: TEST_RUN_LIMITS,
    capacity: new Capacity({ maxActiveRuns: 10_000, databaseWaitLimitMs: 5_000, databaseWaitMs: () => 0 }),
    telemetry: noTelemetry,
    logger: pino({ level: 'silent' }),
    now: Date.now,
    ...overrides,
  };
}
