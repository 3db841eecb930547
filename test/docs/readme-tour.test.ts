import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../src/testing/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The fenced blocks of the README's tour, in order, with their language ('' for the expected output). */
function tourBlocks(): { lang: string; body: string }[] {
  const start = readme.indexOf('## A 60-second tour');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1] ?? '', body: m[2] ?? '' }));
}

describe('the README tour (issue 25.6)', () => {
  let app: TestApp;
  let folder: string;
  beforeAll(async () => {
    // chat.mjs goes where `ws` resolves from the project's node_modules, as the README asks, outside the git tree.
    mkdirSync(join(root, 'node_modules/.cache'), { recursive: true });
    folder = mkdtempSync(join(root, 'node_modules/.cache/agentgate-readme-tour-'));
    // The default limits a reader's server has (the test app raises them).
    app = await createTestApp({ LOGIN_ATTEMPTS_PER_MINUTE: '10', TICKETS_PER_MINUTE: '60' });
  });
  afterAll(async () => {
    await app.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('runs as written, twice: the second time the email exists and the tour logs in', async () => {
    const blocks = tourBlocks();
    const shell = blocks.filter((b) => b.lang === 'sh').map((b) => b.body);
    const chat = blocks.find((b) => b.lang === 'js')?.body;
    const expected = blocks.find((b) => b.lang === '')?.body;
    expect(shell).toHaveLength(3);
    if (chat === undefined || expected === undefined) throw new Error('the tour lost its chat.mjs or its output');
    writeFileSync(join(folder, 'chat.mjs'), chat);
    const script = `set -euo pipefail\n${shell.join('\n').replaceAll('http://127.0.0.1:8080', app.url)}`;
    for (const pass of [1, 2]) {
      const { stdout } = await promisify(execFile)('bash', ['-c', script], { cwd: folder, timeout: 30_000 }).catch(
        (err: { stdout: string; stderr: string }) => {
          throw new Error(`pass ${pass} failed:\n${err.stdout}\n${err.stderr}`, { cause: err });
        },
      );
      // The ticket request prints its answer (no newline after it), then chat.mjs prints the run: the README shows
      // its lines without the blanks console.log puts between empty fields.
      const ticket = /^\{"ticket":"tk_[^"]+","expiresIn":60,"url":"ws:[^"]+"\}/.exec(stdout)?.[0];
      expect(ticket, `pass ${pass}: ${stdout}`).toBeDefined();
      const run = stdout.slice(ticket?.length).replace(/ +$/gm, '');
      expect(run, `pass ${pass}`).toBe(expected);
    }
  }, 90_000);
});
