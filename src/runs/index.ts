export { ActiveRun, RunStop } from './active-run.js';
export type { StopReason } from './active-run.js';
export type { ConversationStore, EventLog, MessageRecord, RunRecord, RunStore, ThreadRecord, UserEventBus } from './ports.js';
export { IDEMPOTENCY_WINDOW_MS, RunManager } from './run-manager.js';
export type { Accepted, RunLimits, RunManagerDeps, Submission } from './run-manager.js';
