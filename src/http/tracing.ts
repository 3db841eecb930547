import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TraceSpan, Tracing } from '../telemetry/index.js';

const spans = new WeakMap<IncomingMessage, TraceSpan>();
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE']);

/**
 * A server span per HTTP request (OpenTelemetry HTTP semantic conventions), continuing the caller's trace when it
 * sends a W3C `traceparent`. Only the method, the route template, the path of a matched route (never the query
 * string: tickets travel there) and the status are recorded. Without tracing no hook is installed at all.
 * WebSocket upgrades never reach Fastify: a socket lives for hours, so its runs start traces of their own.
 */
export function installTracing(app: FastifyInstance, tracing: Tracing): void {
  if (!tracing.enabled) return;
  app.addHook('onRequest', (request, reply, done) => {
    const method = METHODS.has(request.method) ? request.method : '_OTHER';
    // Fastify routes before onRequest: the template is known, and undefined for a path no route matches.
    const route = request.routeOptions.url;
    const span = tracing.startFromHeaders(route === undefined ? method : `${method} ${route}`, request.headers, {
      'http.request.method': method,
      'http.route': route,
      // A path no route matches is whatever the client sent: left out.
      'url.path': route === undefined ? undefined : request.url.split('?', 1)[0],
      'url.scheme': request.protocol,
      'agentgate.request.id': request.id,
    });
    spans.set(request.raw, span);
    if (span.traceId !== undefined) request.log = request.log.child({ traceId: span.traceId });
    // 'close' comes after 'finish', and also when the client leaves first (an SSE stream, an abort).
    reply.raw.once('close', () => {
      if (reply.raw.headersSent) {
        const status = reply.raw.statusCode;
        span.set({ 'http.response.status_code': status });
        if (status >= 500) span.fail(String(status));
      }
      span.end();
    });
    done();
  });
}

/** The span of `request`, for what it starts (a run): undefined without tracing. */
export function spanOfRequest(request: FastifyRequest): TraceSpan | undefined {
  return spans.get(request.raw);
}
