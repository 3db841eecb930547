import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'agentgate-stalled-stdout-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** One refused upgrade (no credential): the server logs it at debug, about 200 bytes. */
function refusedUpgrade(url: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws');
    ws.on('error', () => resolve());
    ws.on('open', () => (ws.close(), resolve()));
  });
}

describe('hardening: a log reader that stops reading (issue 20.11)', () => {
  it('the server goes on answering with its stdout pipe full, and SIGTERM still ends it, with 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { ...process.env, PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'debug', HANDSHAKES_PER_MINUTE: '100000' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // Read up to "listening", then never again: the pipe fills (64 KiB on Linux) and stays full.
      const url = await new Promise<string>((resolve, reject) => {
        let seen = '';
        const onData = (chunk: Buffer): void => {
          seen += chunk.toString();
          const line = seen.split('\n').find((l) => l.includes('agentgate listening'));
          if (line === undefined) return;
          child.stdout.off('data', onData);
          child.stdout.pause();
          resolve((JSON.parse(line) as { url: string }).url);
        };
        child.stdout.on('data', onData);
        child.once('exit', () => reject(new Error('the server exited before listening')));
      });
      // About 160 KiB of log lines: far past what the pipe holds.
      for (let i = 0; i < 800; i++) await refusedUpgrade(url);
      const started = Date.now();
      const live = await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(5_000) });
      expect(live.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(3_000);

      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
