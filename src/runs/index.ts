export { ActiveRun, MAX_EVENTS_PER_WRITE } from './active-run.js';
export { SeqTakenError } from './ports.js';
export type {
  Accepted,
  ApprovalBus,
  ApprovalRecord,
  ApprovalStore,
  DecideResult,
  ConversationStore,
  EventLog,
  InstanceLiveness,
  MessageIdClaim,
  MessageIdStore,
  MessageRecord,
  NewThread,
  Page,
  PageRequest,
  RunStartLimiter,
  RunControlBus,
  RunRecord,
  RunStore,
  Subscription,
  ThreadCursor,
  ThreadRecord,
  UserEventBus,
  UserEventListener,
} from './ports.js';
export { Capacity } from './capacity.js';
export type { CapacityOptions } from './capacity.js';
export { RunManager } from './run-manager.js';
export type { RunManagerDeps } from './run-manager.js';
export { IDEMPOTENCY_WINDOW_MS } from './submissions.js';
export { OrphanRecovery } from './orphan-recovery.js';
export { RunHistory } from './run-history.js';
export { RunDelivery } from './run-delivery.js';
export { followRun } from './follow-run.js';
export { deleteThread, stopRuns } from './thread-lifecycle.js';
export { ApprovalGate, toolPatterns } from './approvals.js';
export type { ApprovalDecision } from './approvals.js';
