import { closeRuleOf as closeRuleOnWire, type CloseName, type ReconnectRule } from '../protocol/wire/index.js';

/**
 * Codes the SDK itself produces, beside the server's error codes (docs/PROTOCOL.md, "Error codes"), which it passes
 * through unchanged. Branch on `code`, never on `message`.
 */
export type ClientErrorCode =
  /** fetch failed, or the socket could not be opened (no HTTP answer). */
  | 'network_error'
  /** The server answered something the SDK cannot read. */
  | 'unexpected_response'
  /** No session: log in, register, demo or restore first. */
  | 'not_authenticated'
  /** The socket is closed or offline and the call needs it: call connect() again. */
  | 'not_connected'
  /** close() or logout() was called while the operation was waiting. */
  | 'client_closed'
  /** The caller's AbortSignal fired before the server accepted the message. */
  | 'aborted'
  | CloseErrorCode;

/** The names of WebSocket closes: the wire vocabulary's close table (src/protocol/wire/close.ts). */
export type CloseErrorCode = CloseName;

/** Every failure the SDK surfaces: a stable code (HTTP error code, WS `error` code, or a close-code name). */
export class ClientError extends Error {
  override readonly name = 'ClientError';
  /** A server error code (`invalid_credentials`, `not_found`…) or a ClientErrorCode. */
  readonly code: string;
  /** The HTTP status, for errors that came from an HTTP answer. */
  readonly status?: number;
  /** The WebSocket close code, for errors that came from a closed socket. */
  readonly closeCode?: number;
  /** Seconds the server asked to wait (HTTP `Retry-After`, or `retryAfterSeconds` of a socket error). */
  readonly retryAfterSeconds?: number;

  constructor(
    code: ClientErrorCode | (string & {}),
    message: string,
    options: { status?: number; closeCode?: number; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
    if (options.closeCode !== undefined) this.closeCode = options.closeCode;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export function isClientError(value: unknown): value is ClientError {
  return value instanceof ClientError;
}

export type { ReconnectRule };

/** What the SDK does after a close (the contract's close table, docs/PROTOCOL.md "Close codes"). */
export interface CloseRule {
  readonly code: CloseErrorCode;
  readonly reconnect: ReconnectRule;
  /** Wait at least this long before the first retry (the server asked us to back off). */
  readonly minDelayMs?: number;
  /** The session is over: tokens are cleared and the user must log in again. */
  readonly endsSession?: boolean;
}

/** The rule for a close code and reason, under the SDK's error code for it. */
export function closeRuleOf(closeCode: number, reason: string): CloseRule {
  const { name, reconnect, minDelayMs, endsSession } = closeRuleOnWire(closeCode, reason);
  return {
    code: name,
    reconnect,
    ...(minDelayMs === undefined ? {} : { minDelayMs }),
    ...(endsSession === undefined ? {} : { endsSession }),
  };
}
