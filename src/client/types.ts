import type {
  ActiveRun,
  AguiEventPayload,
  ApprovalReason,
  AuthMethod,
  AuthProvider,
  ChatMessage,
  MessagesResponse,
  OnBusy,
  PageParams,
  PendingApproval,
  PublicUser,
  RunEvent,
  SessionSummary,
  TerminalEvent,
  ThreadMessage,
  ThreadsResponse,
  ThreadSummary,
} from '../protocol/wire/index.js';
import type { ClientError } from './errors.js';

export type {
  ActiveRun,
  AguiEventPayload,
  ApprovalReason,
  AuthMethod,
  AuthProvider,
  ChatMessage,
  MessagesResponse as MessagePage,
  PageParams,
  PendingApproval,
  PublicUser,
  RunEvent,
  SessionSummary,
  TerminalEvent,
  ThreadMessage,
  ThreadsResponse as ThreadPage,
};
export type Thread = ThreadSummary;

/** A `message_added` announcement: a user message accepted on any connection of this user. */
export interface MessageAdded {
  readonly threadId: string;
  readonly runId: string;
  readonly message: ChatMessage;
}

/**
 * What the SDK needs of a WebSocket: the browser's `WebSocket` and the `ws` package both fit. Only text frames are
 * used, so `data` of a message is a string.
 */
export interface WebSocketLike {
  readonly readyState: number;
  /** Set by node.ts when the server refused the upgrade; browsers cannot see the refusal (they get close 1006). */
  readonly refusal?: HandshakeRefusal;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { readonly code: number; readonly reason: string }) => void): void;
}

/** A refused WebSocket upgrade: the HTTP status and the error code of its body. */
export interface HandshakeRefusal {
  readonly status: number;
  readonly code?: string;
  readonly retryAfterSeconds?: number;
}

export type WebSocketConstructorLike = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface ReconnectOptions {
  /** The first retry waits about this long (default 500 ms); each further one twice as long, jittered. */
  readonly initialDelayMs?: number;
  /** No retry waits longer than this (default 15 000 ms). */
  readonly maxDelayMs?: number;
  /** Retries after a drop before the state becomes `offline` (default 20; Infinity for never). */
  readonly maxAttempts?: number;
}

export interface ClientOptions {
  /** 'http://127.0.0.1:8080'; '' (or location.origin) in the page, for the page's own origin. */
  readonly baseUrl: string;
  /** Default globalThis.fetch. */
  readonly fetch?: typeof fetch;
  /** Default globalThis.WebSocket (node.ts passes `ws`). */
  readonly WebSocket?: WebSocketConstructorLike;
  /** Default 'ticket'; 'bearer' needs node.ts. */
  readonly auth?: AuthMethod;
  readonly reconnect?: ReconnectOptions;
  /** Called whenever the refresh token changes (login, rotation) or is cleared (null): lets the page persist it. */
  readonly onRefreshToken?: (refreshToken: string | null) => void;
  /** The WebSocket URL, when it is not `baseUrl` with ws(s): and /ws (e.g. behind a proxy that moves it). */
  readonly wsUrl?: string;
  /**
   * How long before its expiry an access token is replaced (default: 60 s, or a quarter of its lifetime when that
   * is shorter).
   */
  readonly refreshLeadMs?: number;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'closed';

export interface StateDetail {
  readonly closeCode?: number;
  readonly reason?: string;
  /** In `reconnecting`: how long until the next attempt. */
  readonly retryInMs?: number;
  /** Why the socket is not connected, when it is because of a failure. */
  readonly error?: ClientError;
}

export type StateListener = (state: ConnectionState, detail?: StateDetail) => void;

export interface RunOptions {
  readonly threadId?: string;
  readonly onBusy?: OnBusy;
  /**
   * Aborting before the server accepted the message withdraws it (the handle fails with `aborted`) when it was not
   * sent yet; otherwise it cancels the run, which then ends `run_cancelled`.
   */
  readonly signal?: AbortSignal;
}

export interface RunHandle extends AsyncIterable<RunEvent> {
  /** message_accepted (rejects with ClientError). */
  readonly accepted: Promise<{ runId: string; threadId: string }>;
  /** The terminal event (agent_error and run_cancelled resolve too: they are how the run ended). */
  readonly done: Promise<TerminalEvent>;
  cancel(): Promise<void>;
}
