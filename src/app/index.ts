export { startApp } from './app.js';
export type { AppOptions, RunningApp } from './app.js';
export { adoptSigningKey, openUserAdmin, signingKeyMatch } from './administration.js';
export { migrateDatabase } from './backends.js';
export { createLogger } from './logger.js';
export { preflight } from './preflight.js';
export type { Preflight } from './preflight.js';
