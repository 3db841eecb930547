import type { ApprovalReason, RunEvent, RunStatus, ServerMessage } from '../protocol/index.js';

export interface ThreadRecord {
  readonly id: string;
  readonly userId: string;
  readonly title: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Messages stored in it (its cap is checked against this, not by counting rows). */
  readonly messageCount: number;
  /** The state an AG-UI agent left the thread in, as JSON; null when none did. */
  readonly agentState: string | null;
}

export type NewThread = Omit<ThreadRecord, 'messageCount' | 'agentState'>;

/** Where a thread sits in GET /threads' order (newest activity first): the keyset cursor of its pages. */
export interface ThreadCursor {
  readonly updatedAt: string;
  readonly id: string;
}

/** One page of a list, and the cursor that reads the page after it (undefined on the last one). */
export interface Page<T, Cursor> {
  readonly items: T[];
  readonly next: Cursor | undefined;
}

export interface PageRequest<Cursor> {
  readonly limit: number;
  /** Only items past this cursor (exclusive); the first page without it. */
  readonly before?: Cursor | undefined;
}

export interface MessageRecord {
  readonly id: string;
  readonly threadId: string;
  readonly userId: string;
  readonly role: 'user' | 'assistant';
  readonly text: string;
  readonly runId: string | null;
  readonly createdAt: string;
}

export interface RunRecord {
  readonly id: string;
  readonly threadId: string;
  readonly userId: string;
  readonly status: RunStatus;
  readonly errorCode: string | null;
  /** The highest stored seq (0 before the first event). Ignored by createRun. */
  readonly lastSeq: number;
  readonly createdAt: string;
  /** When the run was created or finished. */
  readonly updatedAt: string;
  /** The instance executing it. */
  readonly instanceId: string | null;
}

/** Threads and their messages. Every read is scoped by owner: another user's id reads as absent. */
export interface ConversationStore {
  createThread(thread: NewThread): Promise<void>;
  getThread(userId: string, threadId: string): Promise<ThreadRecord | undefined>;
  countThreads(userId: string): Promise<number>;
  /** Newest activity first; a page goes on past the `before` thread. */
  listThreads(userId: string, page: PageRequest<ThreadCursor>): Promise<Page<ThreadRecord, ThreadCursor>>;
  /** Renames a thread of this user; false when the user holds no such thread. Not activity: updatedAt stays. */
  renameThread(userId: string, threadId: string, title: string): Promise<boolean>;
  /** Deletes a thread of this user with its messages, runs and their events; false when there was none. */
  deleteThread(userId: string, threadId: string): Promise<boolean>;
  /**
   * Deletes, for every user, up to `limit` threads without a message since `before` and without a run in progress,
   * with everything in them; returns how many.
   */
  deleteIdleThreads(before: string, limit: number): Promise<number>;
  /** Records the state an AG-UI agent left the thread in (JSON). */
  setThreadState(userId: string, threadId: string, state: string): Promise<void>;
  /** Appends a message, counts it and bumps the thread's updatedAt. */
  addMessage(message: MessageRecord): Promise<void>;
  /**
   * The most recent `limit` messages before the cursor (a message's insertion position), in insertion order; `next`
   * reads the older ones.
   */
  listMessages(userId: string, threadId: string, page: PageRequest<number>): Promise<Page<MessageRecord, number>>;
}

export interface RunStore {
  createRun(run: RunRecord): Promise<void>;
  getRun(userId: string, runId: string): Promise<RunRecord | undefined>;
  listRuns(userId: string, threadId: string): Promise<RunRecord[]>;
  /** Whether any user has a run with this id (client-minted ids must not collide); never exposed as such. */
  isRunIdTaken(runId: string): Promise<boolean>;
  finishRun(runId: string, status: RunStatus, errorCode: string | null, now: string): Promise<void>;
  /** Every run still `running`, on any instance (recovery looks for those whose instance is gone). */
  listUnfinished(): Promise<RunRecord[]>;
  /** This user's runs still `running`, on any instance, oldest first. */
  listActive(userId: string): Promise<RunRecord[]>;
}

/** Thrown by EventLog.append when the run already has an event with that seq: someone else wrote it first. */
export class SeqTakenError extends Error {
  override readonly name = 'SeqTakenError';
  constructor(
    readonly runId: string,
    readonly seq: number,
    options?: ErrorOptions,
  ) {
    super(`run ${runId} already has an event with seq ${seq}`, options);
  }
}

/** The durable, ordered log of run events. */
export interface EventLog {
  /**
   * Stores consecutive events of one run, all or none, in one write. Every writer appends at the seq after the
   * last one it knows stored (an ActiveRun at its next seq, an orphan sweeper after what it read), so two writers
   * racing for a run start at the same seq: an append whose first seq is already stored throws SeqTakenError (and
   * stores none of its events) instead of forking the log.
   */
  append(events: readonly RunEvent[]): Promise<void>;
  /** Events with seq > afterSeq, ascending. */
  list(runId: string, afterSeq: number): Promise<RunEvent[]>;
}

export interface UserEventListener {
  message(message: ServerMessage): void;
  /**
   * The bus may have dropped messages (its link to other instances broke and came back): listeners re-read what
   * they follow from the EventLog.
   */
  resync(): void;
}

export interface Subscription {
  /** Resolves once messages published anywhere after this point are delivered to the listener. */
  readonly ready: Promise<void>;
  unsubscribe(): void;
}

/**
 * Delivers messages to every live connection of one user, on this instance and, with Redis, on all instances.
 * Per user and publishing instance, messages arrive in publish order, each once. At-most-once: a subscriber that
 * was not listening misses the message and recovers it from the EventLog (resume, resync).
 */
export interface UserEventBus {
  publish(userId: string, message: ServerMessage): void;
  subscribe(userId: string, listener: UserEventListener): Subscription;
}

/** What a user_message was accepted as: its thread and run. */
export interface Accepted {
  readonly threadId: string;
  readonly runId: string;
}

export type MessageIdClaim =
  { readonly kind: 'claimed' } | { readonly kind: 'accepted'; readonly ack: Accepted } | { readonly kind: 'pending' };

/**
 * The user_message ids accepted in the idempotency window, shared by every instance, so a re-send that reaches
 * another instance still starts nothing.
 */
export interface MessageIdStore {
  /**
   * Atomically claims `key` for `ttlMs` when nobody has: `claimed` (the caller must then settle or release it).
   * Otherwise `accepted` with the stored ack, or `pending` while the claimer is still accepting.
   */
  claim(key: string, ttlMs: number): Promise<MessageIdClaim>;
  settle(key: string, ack: Accepted, ttlMs: number): Promise<void>;
  /** Gives up a claim whose message was refused, so a retry may try again. */
  release(key: string): Promise<void>;
}

/**
 * Counts run starts per user (every instance, with Redis): past the rate it throws `rate_limited` with a retry hint,
 * and `service_unavailable` when it cannot count.
 */
export interface RunStartLimiter {
  consume(userId: string): Promise<void>;
}

/** Carries cancel requests to the instance that executes the run. */
export interface RunControlBus {
  /** Asks every instance to cancel the run; the one executing it does. */
  publish(runId: string): Promise<void>;
  /** Returns an unsubscribe function. */
  subscribe(listener: (runId: string) => void): () => void;
}

/** Which instances are alive: a run whose instance is gone is ended `interrupted` by whoever notices. */
export interface InstanceLiveness {
  /** This process's instance id (random, per start). */
  readonly instanceId: string;
  /** True when no other instance can share this one's state (no Redis): cluster-wide checks are skipped. */
  readonly alone: boolean;
  /** Of the given instance ids, the ones that are alive (this instance always is). */
  alive(instanceIds: readonly string[]): Promise<Set<string>>;
}

/** A tool call that waits, or waited, for its user's decision. */
export interface ApprovalRecord {
  readonly runId: string;
  readonly toolCallId: string;
  readonly userId: string;
  readonly tool: string;
  /** The call's arguments, as JSON. */
  readonly args: string;
  readonly expiresAt: string;
  /** Null while it waits. */
  readonly decision: { readonly approved: boolean; readonly reason: ApprovalReason } | null;
}

export type DecideResult = 'decided' | 'already_resolved' | 'not_found';

/** Approvals, durable so that a decision made on any instance, or after the run ended, finds them. */
export interface ApprovalStore {
  createApproval(approval: Omit<ApprovalRecord, 'decision'>): Promise<void>;
  getApproval(runId: string, toolCallId: string): Promise<ApprovalRecord | undefined>;
  /**
   * Records the first decision only. With `userId` (a person deciding) another user's approval is `not_found`,
   * and one whose run is no longer running is `already_resolved`.
   */
  decideApproval(
    runId: string,
    toolCallId: string,
    decision: { readonly approved: boolean; readonly reason: ApprovalReason; readonly at: string },
    userId?: string,
  ): Promise<DecideResult>;
  /** The user's approvals still waiting, of runs still running. */
  listPendingApprovals(userId: string): Promise<ApprovalRecord[]>;
}

/** Tells every instance that an approval was decided (payload: JSON {runId, toolCallId}); the waiting one reads it. */
export interface ApprovalBus {
  publish(payload: string): Promise<void>;
  subscribe(listener: (payload: string) => void): () => void;
}
