import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'agentgate-lazy-load-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** What a real server resolves from node_modules until it listens: `agentgate` through tsx, then SIGTERM. */
async function packagesLoadedBy(name: string, env: Record<string, string>): Promise<Set<string>> {
  const file = join(scratch, `${name}.txt`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', './test/fixtures/package-recorder.mjs', 'src/main.ts'],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        DATA_DIR: join(scratch, name),
        LOG_LEVEL: 'info',
        AGENTGATE_RECORD_PACKAGES: file,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('agentgate listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}: ${output}`)));
  });
  child.kill('SIGTERM');
  await exited;
  return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean));
}

const HEAVY = ['mathjs', 'openai', '@anthropic-ai/sdk', '@ag-ui/client', 'rxjs', '@modelcontextprotocol/sdk'];

describe('start-up loads only what the configuration uses (issue 25.6)', () => {
  it('the default offline server loads no model SDK, no AG-UI client and no calculator library', async () => {
    const loaded = await packagesLoadedBy('offline', {});
    expect(loaded).toContain('fastify'); // the recorder works
    expect(HEAVY.filter((name) => loaded.has(name))).toEqual([]);
  });

  it('LLM_PROVIDER=openai loads the openai SDK at start-up, and no other', async () => {
    const loaded = await packagesLoadedBy('openai', {
      LLM_PROVIDER: 'openai',
      LLM_MODEL: 'test-model',
      LLM_BASE_URL: 'http://127.0.0.1:9/v1',
    });
    expect(HEAVY.filter((name) => loaded.has(name))).toEqual(['openai']);
  });
});
