import cors from '@fastify/cors';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * CORS for the HTTP API (CONTRACT "Running it"): a browser page on another origin may call it when that origin is
 * allowed (ALLOWED_ORIGINS, and always PUBLIC_URL's), with no credentials: the API authenticates with Bearer tokens,
 * never cookies, so nothing is gained by letting a browser attach them. Other origins get no CORS headers at all,
 * so the browser keeps the answer from the page.
 */
export function installCors(app: FastifyInstance, isOriginAllowed: (origin: string) => boolean): void {
  void app.register(cors, {
    origin: (origin, callback) => callback(null, origin !== undefined && isOriginAllowed(origin)),
    credentials: false,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Accept', 'Last-Event-ID'],
    // A page must be able to read how long to wait after a 429 or 503.
    exposedHeaders: ['Retry-After'],
    maxAge: 600,
  });
}

/** The CORS headers decided for this request, for answers written to the raw response (SSE streams). */
export function corsHeadersOf(reply: FastifyReply): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if ((name.startsWith('access-control-') || name === 'vary') && value !== undefined) headers[name] = String(value);
  }
  return headers;
}
