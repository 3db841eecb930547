import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../scripts/prepare.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'agentgate-prepare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm prepare (scripts/prepare.mjs)', () => {
  it('without the dev dependencies (npm ci --omit=dev) it skips the build, says so, and lets the install succeed', () => {
    // A copy where no node_modules can be found: as an install that omitted the dev dependencies.
    const copy = join(dir, 'prepare.mjs');
    copyFileSync(SCRIPT, copy);
    const run = spawnSync(process.execPath, [copy], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('not building dist/');
    expect(run.stdout).toContain('typescript and vite not installed');
  });
});
