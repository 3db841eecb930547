import type { RunEvent, RunStatus } from './events.js';

/**
 * Request and response bodies of the HTTP API (docs/PROTOCOL.md). Unknown request fields are ignored, never
 * trusted; the schemas that check requests are in ../schemas and are checked against these types.
 */

export interface RegisterRequest {
  email: string;
  password: string;
  displayName?: string | undefined;
}

export interface LoginRequest {
  email: string;
  password: string;
}

/** POST /auth/refresh and POST /auth/logout. */
export interface RefreshRequest {
  refreshToken: string;
}

export interface TicketRequest {
  ttlSeconds?: number | undefined;
}

export interface PublicUser {
  id: string;
  email: string;
  displayName: string | null;
  createdAt: string;
  isAdmin: boolean;
  isDemo: boolean;
}

/** POST /auth/register, /auth/login, /auth/refresh, /auth/demo. */
export interface AuthResponse {
  user: PublicUser;
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  expiresIn: number;
}

/** GET /auth/me */
export interface MeResponse {
  user: PublicUser;
}

/** One login (refresh family) of the user: GET /auth/sessions. */
export interface SessionSummary {
  id: string;
  createdAt: string;
  /** When it last refreshed its tokens (its creation time when it never did). */
  lastUsedAt: string;
  /** The login of the access token that asked. */
  current: boolean;
}

/** GET /auth/sessions */
export interface SessionsResponse {
  sessions: SessionSummary[];
}

/** POST /auth/password */
export interface ChangePasswordRequest {
  currentPassword: string;
  newPassword: string;
}

/** A sign-in provider the page can offer ("Sign in with <name>"). */
export interface AuthProvider {
  id: 'oidc';
  name: string;
}

/** GET /auth/providers: the providers configured (an empty list when none is). */
export interface AuthProvidersResponse {
  providers: AuthProvider[];
}

/** GET /auth/stats (admins only). */
export interface AuthStatsResponse {
  totalValidations: number;
  reuseAttemptsBlocked: number;
  concurrentUsageDetected: number;
  tokensExpiredCleanup: number;
  activeTokenSessions: number;
  activeSessionsByUser: Record<string, number>;
  oldestSessionAgeSeconds: number;
}

/** POST /ws/ticket */
export interface TicketResponse {
  ticket: string;
  expiresIn: number;
  url: string;
}

export const AUTH_METHODS = ['ticket', 'bearer', 'subprotocol'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** GET /ws/health */
export interface WsHealthResponse {
  status: 'ok';
  connections: number;
  preConnectionAuth: true;
  demoMode: boolean;
}

/** GET /ws/config */
export interface WsConfigResponse {
  url: string;
  heartbeatIntervalMs: number;
  maxMessageBytes: number;
  ticketTtlSeconds: number;
  authMethods: readonly AuthMethod[];
}

/** GET /health/live */
export interface LivenessResponse {
  status: 'ok';
}

/** GET /health/ready: 200 when every component answers, else 503 naming the failing ones. */
export interface ReadinessResponse {
  status: 'ok' | 'unavailable';
  components: Record<string, 'ok' | 'unavailable'>;
  failing?: string[];
  /** Components that are down without making the instance unready (`mcp:<name>`). */
  degraded?: string[];
}

export interface ThreadSummary {
  id: string;
  title: string;
  createdAt: string;
  updatedAt: string;
}

/** Page sizes of GET /threads and GET /threads/:id/messages (`?limit=`). */
export const PAGE_LIMITS = { default: 100, max: 500 } as const;

/** The query of a paged list: at most `limit` items, past the opaque `before` cursor a previous page gave. */
export interface PageParams {
  limit?: number;
  before?: string;
}

/** GET /threads: newest activity first. `nextBefore` reads the next (older) page; null on the last one. */
export interface ThreadsResponse {
  threads: ThreadSummary[];
  nextBefore: string | null;
}

export interface RunSummary {
  id: string;
  status: RunStatus;
  errorCode: string | null;
  lastSeq: number;
  createdAt: string;
  updatedAt: string;
}

/** GET /threads/:id */
export interface ThreadResponse {
  thread: ThreadSummary & { runs: RunSummary[] };
}

export interface ThreadMessage {
  id: string;
  role: 'user' | 'assistant';
  text: string;
  runId: string | null;
  createdAt: string;
}

/**
 * GET /threads/:id/messages: the most recent messages, oldest first. `nextBefore` reads the page of older ones;
 * null when there are none.
 */
export interface MessagesResponse {
  messages: ThreadMessage[];
  nextBefore: string | null;
}

/** GET /runs/:id/events?after= */
export interface RunEventsResponse {
  runId: string;
  status: RunStatus;
  events: RunEvent[];
}

/** POST /runs/:id/cancel (202) */
export interface CancelResponse {
  runId: string;
  status: 'cancelling';
}

/** POST /runs/:id/approvals/:toolCallId {approved} (200): the decision that now holds. */
export interface ApprovalResponse {
  runId: string;
  toolCallId: string;
  approved: boolean;
}

/**
 * The last event of an SSE stream the server ends before the run's terminal event (`GET /runs/:id/stream`; on
 * `?format=agui` and `POST /agui` the same words come as an SSE comment): `code` is the close table's name
 * (`session_revoked`, `token_expired`, `server_shutting_down`), to branch on as for a socket's close.
 */
export const STREAM_CLOSED_EVENT = 'stream_closed';
export interface StreamClosed {
  code: string;
  message: string;
}

/** Every error answer: a stable `code` to branch on and a human `message`. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}
