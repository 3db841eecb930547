import { z } from 'zod';
import {
  AUTH_METHODS,
  RUN_STATUSES,
  type ApprovalResponse,
  type AuthProvider,
  type AuthProvidersResponse,
  type AuthResponse,
  type AuthStatsResponse,
  type CancelResponse,
  type ErrorBody,
  type LivenessResponse,
  type MeResponse,
  type MessagesResponse,
  type PublicUser,
  type ReadinessResponse,
  type RunEventsResponse,
  type RunSummary,
  type SessionsResponse,
  type SessionSummary,
  type StreamClosed,
  type ThreadMessage,
  type ThreadResponse,
  type ThreadsResponse,
  type ThreadSummary,
  type TicketResponse,
  type WsConfigResponse,
  type WsHealthResponse,
} from '../wire/index.js';
import { RunEventSchema } from './events.js';
import type { SameShape } from './same-shape.js';

/**
 * Response bodies of the HTTP API as schemas: what the OpenAPI document (src/http/openapi) says each route answers.
 * The server never parses its own answers with them; each is held to the wire type its route is typed with, field
 * for field, at compile time, and test/api checks live answers against the document.
 */

/** ISO 8601 UTC (docs/PROTOCOL.md "Conventions"). */
const time = z.string().meta({ format: 'date-time' });

export const PublicUserSchema = z.object({
  id: z.string(),
  email: z.string(),
  displayName: z.string().nullable(),
  createdAt: time,
  isAdmin: z.boolean(),
  isDemo: z.boolean(),
});

export const AuthResponseSchema = z.object({
  user: PublicUserSchema,
  accessToken: z.string(),
  refreshToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int().meta({ description: 'Seconds until the access token expires.' }),
});

export const MeResponseSchema = z.object({ user: PublicUserSchema });

export const SessionSummarySchema = z.object({
  id: z.string(),
  createdAt: time,
  lastUsedAt: time,
  current: z.boolean(),
});
export const SessionsResponseSchema = z.object({ sessions: z.array(SessionSummarySchema) });

export const AuthProviderSchema = z.object({ id: z.literal('oidc'), name: z.string() });
export const AuthProvidersResponseSchema = z.object({ providers: z.array(AuthProviderSchema) });

export const AuthStatsResponseSchema = z.object({
  totalValidations: z.number().int(),
  reuseAttemptsBlocked: z.number().int(),
  concurrentUsageDetected: z.number().int(),
  tokensExpiredCleanup: z.number().int(),
  activeTokenSessions: z.number().int(),
  activeSessionsByUser: z.record(z.string(), z.number().int()),
  oldestSessionAgeSeconds: z.number(),
});

/** GET /.well-known/jwks.json: RFC 7517 keys, kept whole. */
export const JwksResponseSchema = z.object({ keys: z.array(z.looseObject({ kty: z.string() })) });

export const TicketResponseSchema = z.object({
  ticket: z.string(),
  expiresIn: z.number().int(),
  url: z.string().meta({ description: 'The WebSocket URL to dial, ticket included.' }),
});

export const WsHealthResponseSchema = z.object({
  status: z.literal('ok'),
  connections: z.number().int(),
  preConnectionAuth: z.literal(true),
  demoMode: z.boolean(),
});

export const WsConfigResponseSchema = z.object({
  url: z.string(),
  heartbeatIntervalMs: z.number().int(),
  maxMessageBytes: z.number().int(),
  ticketTtlSeconds: z.number().int(),
  authMethods: z.array(z.enum(AUTH_METHODS)).readonly(),
});

export const LivenessResponseSchema = z.object({ status: z.literal('ok') });

const componentStatus = z.enum(['ok', 'unavailable']);
export const ReadinessResponseSchema = z.object({
  status: componentStatus,
  components: z.record(z.string(), componentStatus),
  failing: z.array(z.string()).optional(),
  degraded: z.array(z.string()).optional(),
});

export const ThreadSummarySchema = z.object({ id: z.string(), title: z.string(), createdAt: time, updatedAt: time });
const nextBefore = z
  .string()
  .nullable()
  .meta({ description: 'Pass as ?before= for the next (older) page; null on the last one.' });
export const ThreadsResponseSchema = z.object({ threads: z.array(ThreadSummarySchema), nextBefore });

export const RunSummarySchema = z.object({
  id: z.string(),
  status: z.enum(RUN_STATUSES),
  errorCode: z.string().nullable(),
  lastSeq: z.number().int(),
  createdAt: time,
  updatedAt: time,
});
export const ThreadDetailSchema = ThreadSummarySchema.extend({ runs: z.array(RunSummarySchema) });
export const ThreadResponseSchema = z.object({ thread: ThreadDetailSchema });
export const RenamedThreadResponseSchema = z.object({ thread: ThreadSummarySchema });

export const ThreadMessageSchema = z.object({
  id: z.string(),
  role: z.enum(['user', 'assistant']),
  text: z.string(),
  runId: z.string().nullable(),
  createdAt: time,
});
export const MessagesResponseSchema = z.object({ messages: z.array(ThreadMessageSchema), nextBefore });

export const RunEventsResponseSchema = z.object({
  runId: z.string(),
  status: z.enum(RUN_STATUSES),
  events: z.array(RunEventSchema),
});

export const CancelResponseSchema = z.object({ runId: z.string(), status: z.literal('cancelling') });
export const ApprovalResponseSchema = z.object({ runId: z.string(), toolCallId: z.string(), approved: z.boolean() });
export const StreamClosedSchema = z.object({ code: z.string(), message: z.string() });

/** Every HTTP error answer. `code` is one of the stable codes (docs/PROTOCOL.md "Error codes"). */
export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});

// Compile-time: each schema describes its wire type, field for field (nested objects checked on their own).
const _checks: [
  SameShape<z.infer<typeof PublicUserSchema>, PublicUser>,
  SameShape<z.infer<typeof AuthResponseSchema>, AuthResponse>,
  SameShape<z.infer<typeof MeResponseSchema>, MeResponse>,
  SameShape<z.infer<typeof SessionSummarySchema>, SessionSummary>,
  SameShape<z.infer<typeof SessionsResponseSchema>, SessionsResponse>,
  SameShape<z.infer<typeof AuthProviderSchema>, AuthProvider>,
  SameShape<z.infer<typeof AuthProvidersResponseSchema>, AuthProvidersResponse>,
  SameShape<z.infer<typeof AuthStatsResponseSchema>, AuthStatsResponse>,
  SameShape<z.infer<typeof TicketResponseSchema>, TicketResponse>,
  SameShape<z.infer<typeof WsHealthResponseSchema>, WsHealthResponse>,
  SameShape<z.infer<typeof WsConfigResponseSchema>, WsConfigResponse>,
  SameShape<z.infer<typeof LivenessResponseSchema>, LivenessResponse>,
  SameShape<z.infer<typeof ReadinessResponseSchema>, ReadinessResponse>,
  SameShape<z.infer<typeof ThreadSummarySchema>, ThreadSummary>,
  SameShape<z.infer<typeof ThreadsResponseSchema>, ThreadsResponse>,
  SameShape<z.infer<typeof RunSummarySchema>, RunSummary>,
  SameShape<z.infer<typeof ThreadDetailSchema>, ThreadResponse['thread']>,
  SameShape<z.infer<typeof ThreadResponseSchema>, ThreadResponse>,
  SameShape<z.infer<typeof ThreadMessageSchema>, ThreadMessage>,
  SameShape<z.infer<typeof MessagesResponseSchema>, MessagesResponse>,
  SameShape<z.infer<typeof RunEventsResponseSchema>, RunEventsResponse>,
  SameShape<z.infer<typeof CancelResponseSchema>, CancelResponse>,
  SameShape<z.infer<typeof ApprovalResponseSchema>, ApprovalResponse>,
  SameShape<z.infer<typeof StreamClosedSchema>, StreamClosed>,
  SameShape<z.infer<typeof ErrorBodySchema>['error'], ErrorBody['error']>,
] = [
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
];
void _checks;
