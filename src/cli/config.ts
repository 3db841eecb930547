import { ConfigError, loadConfig, type Config } from '../config/index.js';
import { print, type CliIo } from './io.js';

/** Loads the server configuration from the environment; prints why and returns undefined when it is invalid. */
export function configOrReport(io: CliIo, refusing = 'agentgate: invalid configuration.'): Config | undefined {
  try {
    return loadConfig(io.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    print(io.stderr, `${refusing}\n${err.message}`);
    return undefined;
  }
}

/** One line naming where state lives (no secrets: URLs are not printed). */
export function describeStorage(config: Config): string {
  return `storage=${config.database ? 'PostgreSQL' : `SQLite in ${config.dataDir}`}, shared state=${config.redis ? 'Redis' : 'memory (one instance)'}`;
}
