/**
 * The one table of WebSocket closes (docs/PROTOCOL.md, "Close codes"): the code and reason the server writes on
 * the wire, the stable name a client reports it under, and what a client does next. The server closes through
 * CLOSE; the SDK decides how to reconnect from closeRuleOf. Branch on the name, never on the reason text.
 */

/** After a close: `retry` with backoff, `refresh` the access token then retry at once, or `stop`. */
export type ReconnectRule = 'retry' | 'refresh' | 'stop';

export interface CloseRule {
  /** The stable name of this close (the SDK's error code for it). */
  readonly name: string;
  readonly reconnect: ReconnectRule;
  /** Wait at least this long before the first retry (the server asked the client to back off). */
  readonly minDelayMs?: number;
  /** The session is over: the client forgets its tokens and the user must log in again. */
  readonly endsSession?: boolean;
}

export interface ServerClose extends CloseRule {
  readonly code: number;
  /** The reason written in the close frame; 1008 carries several policies that only the reason tells apart. */
  readonly reason: string;
}

/** The closes the server itself chooses, with the reason it writes. */
export const CLOSE = {
  normal: { code: 1000, reason: 'normal', name: 'connection_closed', reconnect: 'stop' },
  shuttingDown: { code: 1001, reason: 'server shutting down', name: 'server_shutting_down', reconnect: 'retry' },
  binaryFrame: { code: 1003, reason: 'binary frames are not supported', name: 'unsupported_data', reconnect: 'stop' },
  rateLimited: { code: 1008, reason: 'rate limit exceeded', name: 'rate_limited', reconnect: 'stop' },
  tooManyConnections: {
    code: 1008,
    reason: 'too many concurrent connections',
    name: 'too_many_connections',
    reconnect: 'stop',
  },
  sessionRevoked: {
    code: 1008,
    reason: 'session revoked',
    name: 'session_revoked',
    reconnect: 'stop',
    endsSession: true,
  },
  slowConsumer: { code: 1008, reason: 'slow consumer', name: 'slow_consumer', reconnect: 'retry', minDelayMs: 1_000 },
  tokenUserMismatch: { code: 1008, reason: 'token user mismatch', name: 'token_user_mismatch', reconnect: 'stop' },
  internalError: { code: 1011, reason: 'internal error', name: 'server_error', reconnect: 'retry' },
  tokenExpired: { code: 4001, reason: 'access token expired', name: 'token_expired', reconnect: 'refresh' },
} as const satisfies Record<string, ServerClose>;

export type CloseKind = keyof typeof CLOSE;

/**
 * Closes whose reason is not the server's to choose: written by the `ws` library (1002, 1007, 1009), reported
 * without a close frame (1005, 1006: a dead peer, a heartbeat timeout, a refused upgrade in a browser), or sent
 * by a proxy in front of the server (1012-1014).
 */
export const TRANSPORT_CLOSES = {
  1002: { name: 'protocol_error', reconnect: 'stop' },
  1005: { name: 'connection_lost', reconnect: 'retry' },
  1006: { name: 'connection_lost', reconnect: 'retry' },
  1007: { name: 'invalid_payload', reconnect: 'stop' },
  1009: { name: 'message_too_big', reconnect: 'stop' },
  1012: { name: 'server_shutting_down', reconnect: 'retry' },
  1013: { name: 'server_error', reconnect: 'retry', minDelayMs: 1_000 },
  1014: { name: 'server_error', reconnect: 'retry' },
} as const satisfies Record<number, CloseRule>;

/** Every name a close can be reported under. */
export type CloseName =
  | (typeof CLOSE)[CloseKind]['name']
  | (typeof TRANSPORT_CLOSES)[keyof typeof TRANSPORT_CLOSES]['name']
  | typeof POLICY_VIOLATION.name
  | typeof UNKNOWN_APPLICATION_CLOSE.name;

/** A 1008 whose reason this client does not know (a newer server's policy). */
const POLICY_VIOLATION = { name: 'policy_violation', reconnect: 'stop' } as const satisfies CloseRule;
/** A close code from the application range (4000-4999) this client does not know. */
const UNKNOWN_APPLICATION_CLOSE = { name: 'connection_closed', reconnect: 'stop' } as const satisfies CloseRule;
/** Any other standard code: treated as a lost connection. */
const UNKNOWN_CLOSE = { name: 'connection_lost', reconnect: 'retry' } as const satisfies CloseRule;

export type NamedCloseRule = CloseRule & { readonly name: CloseName };

const serverCloses: readonly (ServerClose & NamedCloseRule)[] = Object.values(CLOSE);
const transportCloses: Readonly<Partial<Record<number, NamedCloseRule>>> = TRANSPORT_CLOSES;

/** The rule for a close code and reason, for every code a client may see. */
export function closeRuleOf(code: number, reason: string): NamedCloseRule {
  // 1008 is one code for several policies: only there does the reason pick the entry.
  const own = serverCloses.find((c) => c.code === code && (code !== 1008 || c.reason === reason));
  if (own !== undefined) return own;
  if (code === 1008) return POLICY_VIOLATION;
  return transportCloses[code] ?? (code >= 4000 ? UNKNOWN_APPLICATION_CLOSE : UNKNOWN_CLOSE);
}
