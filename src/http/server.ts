import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AppError } from '../errors/index.js';
import { bodyContainsNul, containsNul, NUL_REFUSED } from '../protocol/index.js';
import type { HttpDeps } from './context.js';
import { installCors } from './cors.js';
import { answerRoutingError, installErrorHandling, writeClientError } from './errors.js';
import { authRoutes } from './routes/auth.js';
import { oidcRoutes } from './routes/oidc.js';
import { conversationRoutes } from './routes/conversations.js';
import { gatewayRoutes } from './routes/gateway.js';
import { healthRoutes } from './routes/health.js';
import { recordRoutes } from './openapi/index.js';
import { openapiRoutes } from './routes/openapi.js';
import { streamRoutes } from './routes/streams.js';
import { webRoutes } from './routes/web.js';
import { installTracing } from './tracing.js';

export function createHttpApp(deps: HttpDeps, logger: Logger): FastifyInstance {
  const fastifyLogger: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance: fastifyLogger,
    // The caller's X-Request-Id when it is a plain token (else a new UUID): every log line of the request carries
    // it as `requestId`, and the answer returns it.
    requestIdHeader: false,
    genReqId: requestIdOf,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    bodyLimit: deps.config.httpBodyLimitBytes,
    // request.ip, used by every per-IP limit and the logs, follows X-Forwarded-For only through trusted proxies.
    trustProxy: deps.trustProxy,
    // Route ids are 1-128 characters (docs/PROTOCOL.md), like the ids clients may mint (AG-UI runs and threads).
    routerOptions: { maxParamLength: 128 },
    // Routing failures (bad percent-encoding, over-long ids) get our error body, not fastify's.
    frameworkErrors: answerRoutingError,
    // Malformed HTTP (bad framing, oversized headers) never reaches a route: answer it in the same error shape.
    clientErrorHandler: (err, socket) => writeClientError(err, socket),
  });

  // Every route is in the OpenAPI route table (src/http/openapi/api-routes.ts): test/api holds one to the other.
  recordRoutes(app);

  // An empty body is an empty object: POST /auth/demo and /ws/ticket are often sent without one.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch {
      done(
        Object.assign(new Error('invalid JSON'), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' }),
        undefined,
      );
    }
  });

  // Every string that can reach storage arrives in the path, the query or the body.
  app.addHook('preValidation', async (request) => {
    if (containsNul(request.params) || containsNul(request.query) || bodyContainsNul(request.body)) {
      throw new AppError('invalid_request', NUL_REFUSED);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('X-Request-Id', request.id);
  });
  if (deps.tracing !== undefined) installTracing(app, deps.tracing);
  app.addHook('onResponse', async (request, reply) => {
    // The route template (`/threads/:id`), never the path: ids in labels would grow the metric without bound.
    deps.telemetry.httpRequest(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('Cache-Control')) void reply.header('Cache-Control', 'no-store');
    // Every answer is what its Content-Type says: no browser may guess otherwise.
    if (!reply.hasHeader('X-Content-Type-Options')) void reply.header('X-Content-Type-Options', 'nosniff');
    return payload;
  });

  installCors(app, deps.isOriginAllowed);
  installErrorHandling(app, deps.telemetry);
  authRoutes(app, deps);
  oidcRoutes(app, deps);
  gatewayRoutes(app, deps);
  conversationRoutes(app, deps);
  healthRoutes(app, deps);
  streamRoutes(app, deps);
  openapiRoutes(app, deps);
  webRoutes(app, deps);
  return app;
}

/** Only ids that cannot forge a log line or a header: letters, digits, `.`, `_`, `:` and `-`, at most 128. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}
