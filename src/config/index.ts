export { ConfigError, loadConfig, normalizeOrigin } from './config.js';
export type { Config } from './config.js';
export { LEGACY_SECRET_ALIASES, SETTINGS } from './schema.js';
export { settingsTable } from './docs.js';
export type { HttpServerConfig, McpServerConfig, StdioServerConfig } from './mcp-file.js';
