import type { ZodObject, ZodType } from 'zod';
import type { ErrorCode } from '../../errors/index.js';

/**
 * Who may call a route. `bearer`: an access token (or a trusted external JWT); `admin`: one of a user in
 * ADMIN_EMAILS; `bearerOrTicket`: either, or `?ticket=` (browsers' EventSource); `oidcCookie`: the cookie that binds
 * an OIDC sign-in to its browser; `websocket`: the upgrade's own credentials (docs/PROTOCOL.md "Authentication").
 */
export type RouteAuth = 'none' | 'bearer' | 'admin' | 'bearerOrTicket' | 'oidcCookie' | 'websocket';

export interface ApiResponse {
  readonly description: string;
  /** The JSON body; none for 204 and redirects. */
  readonly schema?: ZodType;
  /** When the body is not JSON. */
  readonly contentType?: 'text/event-stream' | 'text/plain' | 'text/html';
  /** Response headers worth naming, with what they hold. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** One route of the HTTP API: the single source of the OpenAPI document (GET /openapi.json). */
export interface ApiRoute {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Fastify's form (`/threads/:id`), exactly as the route is registered. */
  readonly path: string;
  readonly operationId: string;
  readonly tag: ApiTag;
  readonly summary: string;
  readonly description?: string;
  readonly auth: RouteAuth;
  /** The schemas the route itself validates with (parseInput), so the document cannot describe other ones. */
  readonly params?: ZodObject;
  readonly query?: ZodObject;
  /** Request headers the route reads, by name (optional ones). */
  readonly headers?: Readonly<Record<string, ZodType>>;
  readonly body?: ZodType;
  /** An empty body counts as `{}`: the route takes none at all. */
  readonly bodyOptional?: boolean;
  /** Successful answers (and non-error answers such as 503 of /health/ready), by status. */
  readonly responses: Readonly<Record<number, ApiResponse>>;
  /** The error codes this route answers with, besides those every route of its kind has (see document.ts). */
  readonly errors: readonly ErrorCode[];
  /** The setting a route exists or answers under; otherwise it is 404. */
  readonly onlyWhen?: string;
}

export const API_TAGS = {
  auth: 'Accounts, tokens and sessions.',
  oidc: 'Sign in with an OpenID Connect provider (CONTRACT v2).',
  websocket: 'Tickets and facts for the WebSocket (`GET /ws`); its messages are in docs/schemas/.',
  conversations: 'Threads and their messages.',
  runs: 'Runs: their stored events, live streams (SSE), cancel and tool approvals.',
  operations: 'Health, metrics, this document and the web page.',
} as const;
export type ApiTag = keyof typeof API_TAGS;

export const json = (description: string, schema: ZodType): ApiResponse => ({ description, schema });
export const noContent = (description: string): ApiResponse => ({ description });
export const rateLimited: readonly ErrorCode[] = ['rate_limited'];
