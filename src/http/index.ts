export type { HttpDeps } from './context.js';
export { createHttpApp } from './server.js';
