import type { FastifyRequest } from 'fastify';
import { parseBearerHeader, type AuthService, type Principal, type Tickets } from '../auth/index.js';
import type { Config } from '../config/index.js';
import { AppError } from '../errors/index.js';
import type { ConversationStore, RunHistory, RunManager, UserEventBus } from '../runs/index.js';
import type { Telemetry } from '../telemetry/index.js';

/** Everything route handlers need, passed in by the composition root. */
export interface HttpDeps {
  readonly config: Config;
  readonly auth: AuthService;
  readonly tickets: Tickets;
  readonly runs: RunManager;
  /** Stored runs and their events, scoped by owner. */
  readonly history: RunHistory;
  /** Live run events for SSE streams. */
  readonly bus: UserEventBus;
  readonly conversations: ConversationStore;
  readonly jwks: { keys: unknown[] };
  /** ws:// or wss:// URL of the WebSocket endpoint, as clients should dial it. */
  readonly webSocketUrl: () => string;
  /** Components /health/ready checks; each throws when its dependency does not answer. */
  readonly readiness: Record<string, () => Promise<void>>;
  readonly connectionCount: () => number;
  readonly metrics: () => Promise<{ contentType: string; body: string }>;
  readonly telemetry: Telemetry;
  readonly now: () => number;
}

/** The caller of a Bearer-authenticated route. */
export async function requirePrincipal(request: FastifyRequest, auth: AuthService): Promise<Principal> {
  const header = request.headers.authorization;
  if (header === undefined) throw new AppError('unauthorized', 'Send Authorization: Bearer <access token>.');
  return auth.authenticate(parseBearerHeader(header));
}
