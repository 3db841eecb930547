export { API_ROUTES, API_TAGS } from './api-routes.js';
export type { ApiResponse, ApiRoute, ApiTag, RouteAuth } from './api-routes.js';
export { API_VERSION, buildOpenApiDocument, errorCodesOf, openApiPath } from './document.js';
export type { OpenApiDocument } from './document.js';
export { recordRoutes, registeredRoutesOf } from './route-list.js';
export type { RegisteredRoute } from './route-list.js';
export { SCHEMA_DIR, schemaFiles } from './schema-files.js';
