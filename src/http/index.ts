export { createHttpApp } from './server.js';
export { API_ROUTES, buildOpenApiDocument, registeredRoutesOf } from './openapi/index.js';
export type { ApiRoute, OpenApiDocument, RegisteredRoute } from './openapi/index.js';
