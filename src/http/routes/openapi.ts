import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../context.js';
import { buildOpenApiDocument, type OpenApiDocument } from '../openapi/index.js';

/** GET /openapi.json (no auth): the OpenAPI 3.1 document of this API, with PUBLIC_URL as its server. */
export function openapiRoutes(app: FastifyInstance, deps: HttpDeps): void {
  let document: OpenApiDocument | undefined;
  // Built on first use: PUBLIC_URL falls back to the address the server listens on, known only once it does.
  app.get('/openapi.json', async () => (document ??= buildOpenApiDocument({ serverUrl: deps.publicUrl() })));
}
