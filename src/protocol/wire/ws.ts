import type { RunEvent, RunEventStamp } from './events.js';

/** The WebSocket endpoint's path. */
export const WS_PATH = '/ws';
/** The subprotocol the server speaks and answers with (never the token that came with it). */
export const SUBPROTOCOL = 'agentgate.v1';
/** A browser's only way to send a token on the upgrade: `Sec-WebSocket-Protocol: agentgate.v1, bearer.<token>`. */
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';

export const ON_BUSY = ['enqueue', 'interrupt', 'reject'] as const;
/** What a user_message does when its thread already has a run in progress (default `enqueue`). */
export type OnBusy = (typeof ON_BUSY)[number];

/** Client → server messages. `id` (1-128 chars) is echoed as `replyTo`; on user_message it is the idempotency key. */
export type ClientMessage =
  | {
      type: 'user_message';
      id?: string | undefined;
      threadId?: string | undefined;
      text: string;
      onBusy?: OnBusy | undefined;
    }
  | { type: 'cancel_run'; id?: string | undefined; runId: string }
  | { type: 'resume'; id?: string | undefined; runId: string; afterSeq: number }
  | { type: 'ping'; id?: string | undefined }
  | { type: 'authenticate'; id?: string | undefined; token: string }
  /** No ack: the run's `tool_approval_resolved` is the answer (or `error` not_found / already_resolved). */
  | { type: 'approve_tool'; id?: string | undefined; runId: string; toolCallId: string; approved: boolean };
export type ClientMessageType = ClientMessage['type'];
export type UserMessage = Extract<ClientMessage, { type: 'user_message' }>;

/** A tool call waiting for the user's decision (its `tool_approval_requested`, without the stamp). */
export interface PendingApproval {
  toolCallId: string;
  tool: string;
  args: unknown;
  expiresAt: string;
}

/** A run in progress, as connection_established lists it. */
export interface ActiveRun {
  runId: string;
  threadId: string;
  lastSeq: number;
  /** Its tool calls waiting for approval, so a new tab can ask at once. */
  pendingApprovals: PendingApproval[];
}

export interface ChatMessage {
  id: string;
  role: 'user';
  text: string;
  createdAt: string;
}

/** Server → client messages that are not run events. */
export type ControlMessage =
  | {
      type: 'connection_established';
      connectionId: string;
      userId: string;
      serverTime: string;
      heartbeatIntervalMs: number;
      activeRuns: ActiveRun[];
    }
  | { type: 'message_accepted'; replyTo: string | null; threadId: string; runId: string }
  | { type: 'message_added'; threadId: string; runId: string; message: ChatMessage }
  | {
      type: 'error';
      code: string;
      message: string;
      replyTo: string | null;
      /** When sending again may succeed (`rate_limited`, `service_unavailable`). */
      retryAfterSeconds?: number;
    }
  | { type: 'pong'; replyTo: string | null }
  | { type: 'token_expiring'; expiresAt: string }
  | { type: 'authenticated'; replyTo: string | null; expiresAt: string }
  | { type: 'resumed'; replyTo: string | null; runId: string; lastSeq: number; finished: boolean };
export type ControlMessageType = ControlMessage['type'];

export type ServerMessage = ControlMessage | RunEvent;

type FieldKind = 'string' | 'number' | 'boolean' | 'object' | 'array' | 'string?' | 'number?';

/** The kind a reader checks for a field of type T: the tables below are typed with it, so a kind cannot drift. */
type KindOf<T> = [T] extends [string]
  ? 'string'
  : [T] extends [string | null | undefined]
    ? 'string?'
    : [T] extends [number | undefined]
      ? [T] extends [number]
        ? 'number'
        : 'number?'
      : [T] extends [number]
        ? 'number'
        : [T] extends [boolean]
          ? 'boolean'
          : [T] extends [readonly unknown[]]
            ? 'array'
            : 'object';

/**
 * The fields a reader may rely on in each control message, for a structural check without a schema library (the
 * SDK's frame parser). Keyed by the message types and their fields: renaming either breaks this table's type check.
 */
export const CONTROL_MESSAGE_FIELDS: {
  readonly [T in ControlMessageType]: {
    readonly [K in Exclude<keyof Extract<ControlMessage, { type: T }>, 'type'>]-?: KindOf<
      Extract<ControlMessage, { type: T }>[K]
    >;
  };
} = {
  connection_established: {
    connectionId: 'string',
    userId: 'string',
    serverTime: 'string',
    heartbeatIntervalMs: 'number',
    activeRuns: 'array',
  },
  message_accepted: { replyTo: 'string?', threadId: 'string', runId: 'string' },
  message_added: { threadId: 'string', runId: 'string', message: 'object' },
  error: { code: 'string', message: 'string', replyTo: 'string?', retryAfterSeconds: 'number?' },
  pong: { replyTo: 'string?' },
  token_expiring: { expiresAt: 'string' },
  authenticated: { replyTo: 'string?', expiresAt: 'string' },
  resumed: { replyTo: 'string?', runId: 'string', lastSeq: 'number', finished: 'boolean' },
};

/** The fields every run event carries. */
export const RUN_EVENT_FIELDS: { readonly [K in keyof RunEventStamp]-?: KindOf<RunEventStamp[K]> } = {
  runId: 'string',
  threadId: 'string',
  seq: 'number',
  ts: 'string',
};

/** Whether `value` has every field of `fields`, each of its kind. */
export function hasFields(value: Record<string, unknown>, fields: Readonly<Record<string, FieldKind>>): boolean {
  for (const [key, kind] of Object.entries(fields)) {
    const field = value[key];
    const ok =
      kind === 'string?'
        ? field === null || field === undefined || typeof field === 'string'
        : kind === 'number?'
          ? field === undefined || typeof field === 'number'
          : kind === 'array'
            ? Array.isArray(field)
            : kind === 'object'
              ? typeof field === 'object' && field !== null
              : typeof field === kind;
    if (!ok) return false;
  }
  return true;
}

// ignoreBOM keeps a leading U+FEFF in the text, as Buffer#toString does: such a message is not valid JSON.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * A `ws` text message as a string (ws hands over a Buffer, a Buffer[] of fragments, or an ArrayBuffer). Written
 * without Node's Buffer so this module also compiles for the browser.
 */
export function textOf(data: Uint8Array | ArrayBuffer | readonly Uint8Array[]): string {
  if (!isFragments(data)) return utf8.decode(data);
  const whole = new Uint8Array(data.reduce((n, part) => n + part.byteLength, 0));
  let offset = 0;
  for (const part of data) {
    whole.set(part, offset);
    offset += part.byteLength;
  }
  return utf8.decode(whole);
}

function isFragments(data: Uint8Array | ArrayBuffer | readonly Uint8Array[]): data is readonly Uint8Array[] {
  return Array.isArray(data);
}
