export { DOCS_PATHS, startApp } from './app.js';
export type { AppOptions, RunningApp } from './app.js';
export { createLogger, redactQuery, REDACTED_PATHS } from './logger.js';
