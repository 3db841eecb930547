import { RunAgentInputSchema } from '@ag-ui/core/schemas';
import { z, type ZodType } from 'zod';
import { ERROR_CODES, httpStatusOf, type ErrorCode } from '../../errors/index.js';
import {
  ApprovalResponseSchema,
  AuthProvidersResponseSchema,
  AuthProviderSchema,
  AuthResponseSchema,
  AuthStatsResponseSchema,
  CancelResponseSchema,
  ErrorBodySchema,
  JSON_SCHEMA_OPTIONS,
  JwksResponseSchema,
  LivenessResponseSchema,
  MeResponseSchema,
  MessagesResponseSchema,
  PublicUserSchema,
  ReadinessResponseSchema,
  RenamedThreadResponseSchema,
  RunEventSchema,
  RunEventsResponseSchema,
  RunSummarySchema,
  SessionsResponseSchema,
  SessionSummarySchema,
  SUBPROTOCOL,
  ThreadDetailSchema,
  ThreadMessageSchema,
  ThreadResponseSchema,
  ThreadsResponseSchema,
  ThreadSummarySchema,
  TicketResponseSchema,
  WsConfigResponseSchema,
  WsHealthResponseSchema,
} from '../../protocol/index.js';
import { API_ROUTES, API_TAGS, type ApiResponse, type ApiRoute, type RouteAuth } from './api-routes.js';

/** The version of the API the document describes: the wire protocol's (`agentgate.v1`). */
export const API_VERSION = '1.0.0';

type JsonObject = { [key: string]: unknown };
export type OpenApiDocument = JsonObject & { openapi: '3.1.0'; paths: Record<string, Record<string, JsonObject>> };

/** Schemas that get a name of their own under components/schemas; any other body is named after its route. */
const NAMED_SCHEMAS: ReadonlyArray<readonly [string, ZodType]> = [
  ['PublicUser', PublicUserSchema],
  ['AuthResponse', AuthResponseSchema],
  ['MeResponse', MeResponseSchema],
  ['SessionSummary', SessionSummarySchema],
  ['SessionsResponse', SessionsResponseSchema],
  ['AuthProvider', AuthProviderSchema],
  ['AuthProvidersResponse', AuthProvidersResponseSchema],
  ['AuthStatsResponse', AuthStatsResponseSchema],
  ['Jwks', JwksResponseSchema],
  ['TicketResponse', TicketResponseSchema],
  ['WsHealthResponse', WsHealthResponseSchema],
  ['WsConfigResponse', WsConfigResponseSchema],
  ['LivenessResponse', LivenessResponseSchema],
  ['ReadinessResponse', ReadinessResponseSchema],
  ['ThreadSummary', ThreadSummarySchema],
  ['ThreadsResponse', ThreadsResponseSchema],
  ['RunSummary', RunSummarySchema],
  ['ThreadDetail', ThreadDetailSchema],
  ['ThreadResponse', ThreadResponseSchema],
  ['RenamedThreadResponse', RenamedThreadResponseSchema],
  ['ThreadMessage', ThreadMessageSchema],
  ['MessagesResponse', MessagesResponseSchema],
  ['RunEvent', RunEventSchema],
  ['RunEventsResponse', RunEventsResponseSchema],
  ['CancelResponse', CancelResponseSchema],
  ['ApprovalResponse', ApprovalResponseSchema],
  ['RunAgentInput', RunAgentInputSchema],
  ['ErrorBody', ErrorBodySchema],
];

const SECURITY_SCHEMES = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An access token from /auth/login, /auth/register or /auth/refresh (or a trusted external JWT).',
  },
  ticket: {
    type: 'apiKey',
    in: 'query',
    name: 'ticket',
    description: 'A single-use WebSocket ticket (POST /ws/ticket), spent by the attempt.',
  },
  oidcCookie: {
    type: 'apiKey',
    in: 'cookie',
    name: 'agentgate_oidc',
    description: 'Binds an OIDC sign-in to its browser; named `__Host-agentgate_oidc` when PUBLIC_URL is https.',
  },
} as const;

const SECURITY: Record<RouteAuth, JsonObject[]> = {
  none: [],
  bearer: [{ bearerAuth: [] }],
  admin: [{ bearerAuth: [] }],
  bearerOrTicket: [{ bearerAuth: [] }, { ticket: [] }],
  oidcCookie: [{ oidcCookie: [] }],
  websocket: [{ ticket: [] }, { bearerAuth: [] }],
};

const TOKEN_ERRORS: readonly ErrorCode[] = ['unauthorized', 'invalid_token', 'token_expired', 'service_unavailable'];

/** The codes a route answers with: its own, and those that come with its kind of auth and input. */
export function errorCodesOf(route: ApiRoute): ErrorCode[] {
  const codes = new Set<ErrorCode>();
  if (route.auth !== 'none' && route.auth !== 'oidcCookie') for (const c of TOKEN_ERRORS) codes.add(c);
  if (route.auth === 'admin') codes.add('forbidden');
  if (route.auth === 'bearerOrTicket' || route.auth === 'websocket') codes.add('invalid_ticket');
  if (route.auth === 'websocket') codes.add('invalid_request');
  // Any path, query or body can be refused (a NUL character, a bad id, a wrong shape).
  if (route.params !== undefined || route.query !== undefined || route.body !== undefined) codes.add('invalid_request');
  if (route.params !== undefined) codes.add('not_found');
  if (route.body !== undefined) {
    codes.add('payload_too_large');
    codes.add('unsupported_media_type');
  }
  for (const c of route.errors) codes.add(c);
  return Object.keys(ERROR_CODES).filter((c): c is ErrorCode => codes.has(c as ErrorCode));
}

/** `/threads/:id` → `/threads/{id}` */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/**
 * The OpenAPI 3.1 document of the HTTP API, built from API_ROUTES and the zod schemas the routes validate with (and
 * those their answers are typed by). `serverUrl` (PUBLIC_URL) is left out of the committed copy in docs/schemas/.
 */
export function buildOpenApiDocument(options: { serverUrl?: string } = {}): OpenApiDocument {
  const names = new Map<ZodType, string>(NAMED_SCHEMAS.map(([name, schema]) => [schema, name]));
  const nameOf = (schema: ZodType, fallback: string): string => {
    const known = names.get(schema);
    if (known !== undefined) return known;
    names.set(schema, fallback);
    return fallback;
  };
  const pascal = (id: string): string => id.charAt(0).toUpperCase() + id.slice(1);
  const ref = (name: string): JsonObject => ({ $ref: `#/components/schemas/${name}` });

  const paths: OpenApiDocument['paths'] = {};
  for (const route of API_ROUTES) {
    const operation: JsonObject = {
      operationId: route.operationId,
      tags: [route.tag],
      summary: route.summary,
      ...describe(route),
      security: SECURITY[route.auth],
      ...parametersOf(route),
    };
    if (route.body !== undefined) {
      const name = nameOf(route.body, `${pascal(route.operationId)}Request`);
      operation.requestBody = {
        required: route.bodyOptional !== true,
        content: { 'application/json': { schema: ref(name) } },
      };
    }
    const responses: Record<string, JsonObject> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      responses[status] = responseObject(response, (schema) =>
        ref(nameOf(schema, `${pascal(route.operationId)}Response${status === '200' ? '' : status}`)),
      );
    }
    for (const [status, codes] of byStatus(errorCodesOf(route))) {
      if (responses[status] !== undefined)
        throw new TypeError(`${route.path}: ${status} is both a success and an error`);
      responses[status] = errorResponse(codes);
    }
    responses.default = {
      description: '`internal_error` (500), or `service_unavailable` (503) when a dependency does not answer.',
      content: { 'application/json': { schema: ref('ErrorBody') } },
    };
    operation.responses = responses;
    (paths[openApiPath(route.path)] ??= {})[route.method.toLowerCase()] = operation;
  }

  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of names) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    ...JSON_SCHEMA_OPTIONS,
    // @ag-ui/core's RunAgentInput transforms some fields: they are described as any value.
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  const componentSchemas: Record<string, unknown> = { ErrorCode: errorCodeSchema() };
  for (const name of [...names.values()].sort()) {
    const { $schema: _dialect, $id: _id, ...schema } = schemas[name] as JsonObject;
    componentSchemas[name] = schema;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'agentgate',
      version: API_VERSION,
      summary: 'Authenticated WebSocket gateway for AI agents: the HTTP API.',
      description: `Generated from the route table (src/http/openapi/api-routes.ts) and the zod schemas the routes validate with. The WebSocket (\`GET /ws\`, subprotocol \`${SUBPROTOCOL}\`) is described by the JSON Schemas in docs/schemas/; see docs/API.md. Every error answer is \`{"error": {"code", "message", "details"?}}\`: branch on \`code\` (components/schemas/ErrorCode).`,
      license: { name: 'MIT', identifier: 'MIT' },
    },
    ...(options.serverUrl === undefined || options.serverUrl === '' ? {} : { servers: [{ url: options.serverUrl }] }),
    tags: Object.entries(API_TAGS).map(([name, description]) => ({ name, description })),
    paths,
    components: { schemas: componentSchemas, securitySchemes: SECURITY_SCHEMES },
  };
}

function describe(route: ApiRoute): JsonObject {
  const parts = [
    route.description,
    route.onlyWhen === undefined ? undefined : `Only with ${route.onlyWhen}; 404 otherwise.`,
  ];
  const text = parts.filter((p) => p !== undefined).join(' ');
  return text === '' ? {} : { description: text };
}

function parametersOf(route: ApiRoute): JsonObject {
  const parameters: JsonObject[] = [];
  const add = (where: 'path' | 'query' | 'header', schema: ZodType | undefined): void => {
    if (schema === undefined) return;
    const json = toJsonSchema(schema) as { properties?: Record<string, JsonObject>; required?: string[] };
    for (const [name, property] of Object.entries(json.properties ?? {})) {
      const { description, ...propertySchema } = property;
      parameters.push({
        name,
        in: where,
        required: where === 'path' || (json.required ?? []).includes(name),
        ...(description === undefined ? {} : { description }),
        schema: propertySchema,
      });
    }
  };
  add('path', route.params);
  add('query', route.query);
  for (const [name, schema] of Object.entries(route.headers ?? {})) {
    const { $schema: _dialect, ...headerSchema } = toJsonSchema(schema);
    parameters.push({ name, in: 'header', required: false, schema: headerSchema });
  }
  return parameters.length === 0 ? {} : { parameters };
}

function toJsonSchema(schema: ZodType): JsonObject {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, JSON_SCHEMA_OPTIONS);
  return json;
}

function responseObject(response: ApiResponse, refOf: (schema: ZodType) => JsonObject): JsonObject {
  const object: JsonObject = { description: response.description };
  if (response.headers !== undefined) {
    object.headers = Object.fromEntries(
      Object.entries(response.headers).map(([name, description]) => [
        name,
        { description, schema: { type: 'string' } },
      ]),
    );
  }
  if (response.schema !== undefined) object.content = { 'application/json': { schema: refOf(response.schema) } };
  else if (response.contentType !== undefined)
    object.content = { [response.contentType]: { schema: { type: 'string' } } };
  return object;
}

function byStatus(codes: readonly ErrorCode[]): Map<string, ErrorCode[]> {
  const groups = new Map<string, ErrorCode[]>();
  for (const code of codes) {
    const status = String(httpStatusOf(code));
    groups.set(status, [...(groups.get(status) ?? []), code]);
  }
  return groups;
}

function errorResponse(codes: readonly ErrorCode[]): JsonObject {
  const response: JsonObject = {
    description: codes.map((c) => `\`${c}\`: ${ERROR_CODES[c].doc}`).join('\n\n'),
    'x-error-codes': codes,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
  };
  // Rate limits and overload say when to come back (service_unavailable sends it when it knows).
  if (codes.some((c) => httpStatusOf(c) === 429 || c === 'overloaded'))
    response.headers = { 'Retry-After': { description: 'Seconds to wait.', schema: { type: 'integer' } } };
  return response;
}

/** The stable codes of HTTP errors, each with its meaning (docs/PROTOCOL.md "Error codes"). */
function errorCodeSchema(): JsonObject {
  return {
    type: 'string',
    description: 'The stable code of an error answer. Branch on it, never on `message`.',
    oneOf: Object.entries(ERROR_CODES)
      .filter(([, entry]) => !('runOnly' in entry))
      .map(([code, entry]) => ({ const: code, description: entry.doc })),
  };
}
