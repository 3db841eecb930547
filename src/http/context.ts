import type { FastifyRequest } from 'fastify';
import {
  parseBearerHeader,
  principalOfTickets,
  type AuthService,
  type Principal,
  type Tickets,
} from '../auth/index.js';
import type { Config } from '../config/index.js';
import type { OidcSignIn } from '../auth/index.js';
import { AppError } from '../errors/index.js';
import type { CloseKind } from '../protocol/index.js';
import type { ConversationStore, RunHistory, RunManager, UserEventBus } from '../runs/index.js';
import type { RunOrigins, Telemetry, Tracing } from '../telemetry/index.js';

/** A stream's hold on one of its user's connection slots (see the gateway's StreamSessions). */
export interface StreamSlot {
  release(): void;
  recheckSession(): void;
}

/** Everything route handlers need, passed in by the composition root. */
export interface HttpDeps {
  readonly config: Config;
  /** The URL clients reach this server at (PUBLIC_URL, else the address it listens on). */
  readonly publicUrl: () => string;
  /** OpenID Connect sign-in, when OIDC_ISSUER is set. */
  readonly oidc: { readonly signIn: OidcSignIn; readonly displayName: string } | undefined;
  /** ALLOWED_ORIGINS and PUBLIC_URL's origin: who may call the API from a browser page (CORS), and open sockets. */
  readonly isOriginAllowed: (origin: string) => boolean;
  /** TRUST_PROXY: which hops may name the client in X-Forwarded-For (request.ip follows it). */
  readonly trustProxy: (address: string, hop: number) => boolean;
  readonly auth: AuthService;
  readonly tickets: Tickets;
  readonly runs: RunManager;
  /** Stored runs and their events, scoped by owner. */
  readonly history: RunHistory;
  /**
   * Takes a connection slot for an SSE stream (429 past MAX_CONNECTIONS_PER_USER, counted with sockets); `end` is
   * called when the session is revoked or the access token expires.
   */
  readonly admitStream: (principal: Principal, end: (why: CloseKind) => void) => Promise<StreamSlot>;
  /** Live run events for SSE streams. */
  readonly bus: UserEventBus;
  readonly conversations: ConversationStore;
  readonly jwks: { keys: unknown[] };
  /** ws:// or wss:// URL of the WebSocket endpoint, as clients should dial it. */
  readonly webSocketUrl: () => string;
  /** Components /health/ready checks; each throws when its dependency does not answer. */
  readonly readiness: Record<string, () => Promise<void>>;
  /** Components /health/ready names (up or not) without ever failing on them: MCP servers. */
  readonly informational: () => Record<string, boolean>;
  readonly connectionCount: () => number;
  readonly metrics: () => Promise<{ contentType: string; body: string }>;
  readonly telemetry: Telemetry;
  /** Spans of HTTP requests (OTEL_EXPORTER_OTLP_ENDPOINT); omitted: none. */
  readonly tracing?: Tracing | undefined;
  /** Where a route that starts a run records what started it (request id, span), for the run's logs and trace. */
  readonly origins?: RunOrigins | undefined;
  readonly now: () => number;
}

/** The caller of a Bearer-authenticated route. */
export async function requirePrincipal(request: FastifyRequest, auth: AuthService): Promise<Principal> {
  const header = request.headers.authorization;
  if (header === undefined) throw new AppError('unauthorized', 'Send Authorization: Bearer <access token>.');
  return auth.authenticate(parseBearerHeader(header));
}

/**
 * The caller of a route that browsers reach without headers (`EventSource`): a `?ticket=` (a WebSocket ticket,
 * spent by this attempt whatever happens next), else Authorization: Bearer.
 */
export async function requireStreamPrincipal(request: FastifyRequest, deps: HttpDeps): Promise<Principal> {
  const query = request.query as Record<string, unknown> | undefined;
  const raw = query?.ticket;
  const tickets = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String);
  return (await principalOfTickets(deps, tickets, deps.now())) ?? requirePrincipal(request, deps.auth);
}
