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

/** The names of WebSocket close codes (see CLOSE_RULES). */
export type CloseErrorCode =
  | 'connection_closed'
  | 'server_shutting_down'
  | 'protocol_error'
  | 'unsupported_data'
  | 'connection_lost'
  | 'invalid_payload'
  | 'rate_limited'
  | 'too_many_connections'
  | 'session_revoked'
  | 'slow_consumer'
  | 'token_user_mismatch'
  | 'policy_violation'
  | 'message_too_big'
  | 'server_error'
  | 'token_expired';

/** Every failure the SDK surfaces: a stable code (HTTP error code, WS `error` code, or a close-code name). */
export class ClientError extends Error {
  override readonly name = 'ClientError';
  /** A server error code (`invalid_credentials`, `not_found`…) or a ClientErrorCode. */
  readonly code: string;
  /** The HTTP status, for errors that came from an HTTP answer. */
  readonly status?: number;
  /** The WebSocket close code, for errors that came from a closed socket. */
  readonly closeCode?: number;
  /** Seconds the server asked to wait (HTTP `Retry-After`). */
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

/** What the SDK does after a close: `retry` with backoff, `refresh` the token then retry at once, or `stop`. */
export type ReconnectRule = 'retry' | 'refresh' | 'stop';

export interface CloseRule {
  readonly code: CloseErrorCode;
  readonly reconnect: ReconnectRule;
  /** Wait at least this long before the first retry (the server asked us to back off). */
  readonly minDelayMs?: number;
  /** The session is over: tokens are cleared and the user must log in again. */
  readonly endsSession?: boolean;
}

/** The contract's close-code table (docs/PROTOCOL.md, "Close codes"), with what the SDK does for each. */
const BY_CODE: Readonly<Record<number, CloseRule>> = {
  1000: { code: 'connection_closed', reconnect: 'stop' },
  1001: { code: 'server_shutting_down', reconnect: 'retry' },
  1002: { code: 'protocol_error', reconnect: 'stop' },
  1003: { code: 'unsupported_data', reconnect: 'stop' },
  // No close frame: a dead peer, a heartbeat timeout, a network change, or a refused upgrade in a browser.
  1005: { code: 'connection_lost', reconnect: 'retry' },
  1006: { code: 'connection_lost', reconnect: 'retry' },
  1007: { code: 'invalid_payload', reconnect: 'stop' },
  1009: { code: 'message_too_big', reconnect: 'stop' },
  1011: { code: 'server_error', reconnect: 'retry' },
  1012: { code: 'server_shutting_down', reconnect: 'retry' },
  1013: { code: 'server_error', reconnect: 'retry', minDelayMs: 1_000 },
  1014: { code: 'server_error', reconnect: 'retry' },
  4001: { code: 'token_expired', reconnect: 'refresh' },
};

/** 1008 is one code for several policies: the reason on the wire tells them apart. */
const POLICY_BY_REASON: Readonly<Record<string, CloseRule>> = {
  'rate limit exceeded': { code: 'rate_limited', reconnect: 'stop' },
  'too many concurrent connections': { code: 'too_many_connections', reconnect: 'stop' },
  'session revoked': { code: 'session_revoked', reconnect: 'stop', endsSession: true },
  'slow consumer': { code: 'slow_consumer', reconnect: 'retry', minDelayMs: 1_000 },
  'token user mismatch': { code: 'token_user_mismatch', reconnect: 'stop' },
};

/** The rule for a close code and reason; unknown codes are treated as a lost connection when ≥ 1000 and < 4000. */
export function closeRuleOf(closeCode: number, reason: string): CloseRule {
  if (closeCode === 1008) return POLICY_BY_REASON[reason] ?? { code: 'policy_violation', reconnect: 'stop' };
  return (
    BY_CODE[closeCode] ??
    (closeCode >= 4000
      ? { code: 'connection_closed', reconnect: 'stop' }
      : { code: 'connection_lost', reconnect: 'retry' })
  );
}

export function closeError(closeCode: number, reason: string): ClientError {
  const rule = closeRuleOf(closeCode, reason);
  return new ClientError(rule.code, `The connection closed (${closeCode}${reason === '' ? '' : ` ${reason}`}).`, {
    closeCode,
  });
}
