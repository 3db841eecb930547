import { webSocketJsonSchemas } from '../../protocol/index.js';
import { buildOpenApiDocument } from './document.js';

/** Where the generated API description is committed (`npm run schemas`), relative to the repository. */
export const SCHEMA_DIR = 'docs/schemas';

/**
 * Every file of docs/schemas/, by path under it: the OpenAPI document (without a server: GET /openapi.json adds
 * PUBLIC_URL) and the JSON Schemas of the WebSocket protocol.
 */
export function schemaFiles(): Record<string, unknown> {
  return { 'openapi.json': buildOpenApiDocument(), ...webSocketJsonSchemas() };
}
