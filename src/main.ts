#!/usr/bin/env node
import { startApp } from './app/index.js';
import { ConfigError, loadConfig } from './config/index.js';

const HELP = `agentgate: an authenticated real-time gateway for AI agents

Usage: agentgate [--check-config] [--help]
  (no flag)        serve HTTP and WebSocket (settings from the environment: see docs/CONFIG.md)
  --check-config   validate the configuration, print the result, and exit (0 valid, 1 invalid)
  --help           this text

Exit codes: 0 ok, 1 invalid configuration, 2 unknown argument, 70 failed to start.`;

async function main(argv: readonly string[]): Promise<number> {
  const unknown = argv.filter((a) => a !== '--check-config' && a !== '--help');
  if (argv.includes('--help')) return console.log(HELP), 0;
  if (unknown.length > 0) return console.error(`Unknown argument: ${unknown.join(' ')}\n\n${HELP}`), 2;

  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) return console.error(`agentgate: refusing to start.\n${err.message}`), 1;
    throw err;
  }
  if (argv.includes('--check-config')) {
    console.log(`Configuration is valid (NODE_ENV=${config.env}, signing=${config.jwt.secretKey === undefined ? 'EdDSA key in DATA_DIR' : 'HS256 JWT_SECRET_KEY'}, storage=${config.database ? 'PostgreSQL' : `SQLite in ${config.dataDir}`}, shared state=${config.redis ? 'Redis' : 'memory (one instance)'}).`);
    return 0;
  }

  const app = await startApp(config);
  let signals = 0;
  const shutdown = (signal: string): void => {
    if (++signals > 1) process.exit(1);
    app.logger.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        app.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    console.error('agentgate failed to start:', err);
    process.exit(70);
  },
);
