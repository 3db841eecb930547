export { ActiveRun, MAX_EVENTS_PER_WRITE, RunStop } from './active-run.js';
export type { StopReason } from './active-run.js';
export { SeqTakenError } from './ports.js';
export type {
  Accepted,
  ConversationStore,
  EventLog,
  InstanceLiveness,
  MessageIdClaim,
  MessageIdStore,
  MessageRecord,
  RunControlBus,
  RunRecord,
  RunStore,
  Subscription,
  ThreadRecord,
  UserEventBus,
  UserEventListener,
} from './ports.js';
export { IDEMPOTENCY_WINDOW_MS, RunManager } from './run-manager.js';
export type { RunLimits, RunManagerDeps, Submission } from './run-manager.js';
export { RunDelivery } from './run-delivery.js';
export { followRun } from './follow-run.js';
export type { RunSink } from './follow-run.js';
