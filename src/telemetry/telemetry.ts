/**
 * What the domains report for metrics. Labels are closed sets (statuses, kinds): never a user id, email or token.
 * Calls are synchronous and cheap; implementations must never throw.
 */
export interface Telemetry {
  /** A WebSocket upgrade attempt and its outcome: 101 or the HTTP status it was refused with. */
  handshake(status: number): void;
  /** Messages written to sockets. */
  messagesSent(count: number): void;
  /** A run ended with this status after durationMs (from agent_started). */
  runEnded(status: string, durationMs: number): void;
  /** A limit refused something: login, refresh, ticket, handshake, messages, connections, runs. */
  rateLimited(kind: string): void;
  /** A connection closed by the server for this reason (close code kind). */
  connectionClosed(kind: string): void;
  /** Authentication events, as GET /auth/stats counts them since start-up (`count` of them at once). */
  authEvent(kind: AuthEventKind, count?: number): void;
  /** An HTTP request answered: its route template (never the raw path, which holds ids), status and duration. */
  httpRequest(method: string, route: string, statusCode: number, seconds: number): void;
  /** Tokens a language model reported for one run. */
  modelTokens(input: number, output: number): void;
}

export type AuthEventKind = 'validation' | 'refresh_reuse' | 'concurrent_refresh' | 'expired_tokens_deleted';

export const noTelemetry: Telemetry = {
  handshake: () => {},
  messagesSent: () => {},
  runEnded: () => {},
  rateLimited: () => {},
  connectionClosed: () => {},
  authEvent: () => {},
  httpRequest: () => {},
  modelTokens: () => {},
};
