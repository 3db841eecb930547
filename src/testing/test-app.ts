import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startApp, type AppOptions, type RunningApp } from '../app/index.js';
import { loadConfig } from '../config/index.js';

export interface TestApp extends RunningApp {
  readonly dataDir: string;
  /** Stops the server and deletes its data directory. */
  close(): Promise<void>;
}

/**
 * A real server on 127.0.0.1, port 0, with its own SQLite in a temp directory. Rate limits are lifted unless the
 * test sets them: suites that test a limit set it explicitly.
 */
export async function createTestApp(env: Record<string, string> = {}, options: AppOptions = {}): Promise<TestApp> {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'agentgate-test-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    LOGIN_ATTEMPTS_PER_MINUTE: '1000',
    REFRESH_ATTEMPTS_PER_MINUTE: '1000',
    TICKETS_PER_MINUTE: '1000',
    RUNS_PER_MINUTE: '100000',
    HANDSHAKES_PER_MINUTE: '100000',
    SHUTDOWN_GRACE_MS: '0',
    WS_MESSAGES_PER_SECOND: '10000',
    ...env,
  });
  const app = await startApp(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), ...options });
  return {
    ...app,
    dataDir,
    close: async () => {
      await app.stop();
      if (env.DATA_DIR === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
