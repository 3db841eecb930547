import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The packages a real server (`src/main.ts` through tsx, with `env` over embedded defaults) resolves from
 * node_modules until it listens; then SIGTERM. Recorded by test/fixtures/package-recorder.mjs.
 */
export async function packagesLoadedBy(env: Record<string, string>): Promise<Set<string>> {
  const scratch = mkdtempSync(join(tmpdir(), 'agentgate-packages-'));
  try {
    const file = join(scratch, 'packages.txt');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--import', './test/fixtures/package-recorder.mjs', 'src/main.ts'],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? '',
          PORT: '0',
          DATA_DIR: join(scratch, 'data'),
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
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
