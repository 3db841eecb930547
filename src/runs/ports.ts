import type { RunEvent, RunStatus, ServerMessage } from '../protocol/index.js';

export interface ThreadRecord {
  readonly id: string;
  readonly userId: string;
  readonly title: string;
  readonly createdAt: string;
  readonly updatedAt: string;
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
  readonly lastSeq: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Threads and their messages. Every read is scoped by owner: another user's id reads as absent. */
export interface ConversationStore {
  createThread(thread: ThreadRecord): Promise<void>;
  getThread(userId: string, threadId: string): Promise<ThreadRecord | undefined>;
  /** Newest activity first. */
  listThreads(userId: string): Promise<ThreadRecord[]>;
  /** Appends a message and bumps the thread's updatedAt. */
  addMessage(message: MessageRecord): Promise<void>;
  /** In insertion order. */
  listMessages(userId: string, threadId: string): Promise<MessageRecord[]>;
}

export interface RunStore {
  createRun(run: RunRecord): Promise<void>;
  getRun(userId: string, runId: string): Promise<RunRecord | undefined>;
  listRuns(userId: string, threadId: string): Promise<RunRecord[]>;
  finishRun(runId: string, status: RunStatus, errorCode: string | null, now: string): Promise<void>;
  /** Runs left `running` by a previous process (crash or restart). */
  listUnfinished(): Promise<RunRecord[]>;
}

/** The durable, ordered log of run events. */
export interface EventLog {
  /** Stores one event; (runId, seq) is unique, so a duplicate append fails instead of forking the log. Also records lastSeq. */
  append(event: RunEvent): Promise<void>;
  /** Events with seq > afterSeq, ascending. */
  list(runId: string, afterSeq: number): Promise<RunEvent[]>;
}

/**
 * Delivers messages to every live connection of one user, on this instance (and, with Redis, on all instances).
 * Per user, messages are delivered in publish order. At-most-once: a subscriber that was not listening misses the
 * message and recovers it from the EventLog (resume).
 */
export interface UserEventBus {
  publish(userId: string, message: ServerMessage): void;
  /** Returns an unsubscribe function. */
  subscribe(userId: string, listener: (message: ServerMessage) => void): () => void;
}
