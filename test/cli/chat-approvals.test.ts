import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../../src/cli/index.js';
import type { RunEvent } from '../../src/protocol/index.js';
import { createTestApp, type TestApp } from '../../src/testing/index.js';
import { cli, MAIN_ARGS, spawnInTerminal } from './helpers.js';

/** The offline agent calls the calculator for this; the calculator waits for approval on these servers. */
const MATH = 'what is 6 * 7';
const REQUEST = 'calculator {"expression":"6 * 7"}';

let app: TestApp;
/** Approvals expire after a second here. */
let hasty: TestApp;
beforeAll(async () => {
  [app, hasty] = await Promise.all([
    createTestApp({ DEMO_MODE: '1', TOOLS_REQUIRING_APPROVAL: 'calculator' }),
    createTestApp({ DEMO_MODE: '1', TOOLS_REQUIRING_APPROVAL: 'calculator', TOOL_APPROVAL_TIMEOUT_MS: '1000' }),
  ]);
});
afterAll(async () => {
  await Promise.all([app?.close(), hasty?.close()]);
});

/** What a person reads: no ANSI escapes, and no carriage returns (readline ends lines with \r\n). */
// eslint-disable-next-line no-control-regex -- ANSI escape sequences are control characters by definition.
const plain = (text: string): string => text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');

/** Resolves once `output()` matches, or fails with what was seen. */
async function sees(output: () => string, pattern: RegExp, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(output())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output so far:\n${output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** `chat` in this process with an io that says it is a terminal (readline in terminal mode, the live view). */
function inFakeTerminal(argv: readonly string[]) {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  const stdout = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
  const stderr = new PassThrough();
  let output = '';
  stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const io: CliIo = {
    stdin,
    stdout,
    stderr,
    env: { LOG_LEVEL: 'silent', NO_COLOR: '1' },
    onSignal: () => () => {},
  };
  return {
    exited: runCli(['chat', ...argv], io),
    type: (text: string) => stdin.write(text),
    output: () => plain(output),
  };
}

describe('CLI chat: tool approvals through a pipe (in process)', () => {
  it('stdin is not a terminal: every request is denied, saying so and why; the run goes on (exit 0)', async () => {
    const { code, stdout, stderr } = await cli(['chat', '--url', app.url, '--demo'], { stdin: `${MATH}\n` });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.split('\n');
    const denied = lines.indexOf(
      `[approval] denied ${REQUEST}: stdin is not a terminal, so no one can be asked (--approve-tools approves every tool call)`,
    );
    expect(denied).toBeGreaterThan(lines.indexOf(`[tool] ${REQUEST}`));
    expect(lines.indexOf('[approval] calculator denied')).toBeGreaterThan(denied);
    expect(stdout).toMatch(/\[tool\] calculator failed: approval_denied \(\d+ ms\)/);
    const answer = lines.filter((l) => !l.startsWith('[') && !l.startsWith('>') && l !== '').join('\n');
    expect(answer).toContain('denied');
    expect(answer).not.toContain('42');
  });

  it('--approve-tools: every request is approved and printed; the answer has 42', async () => {
    const { code, stdout, stderr } = await cli(['chat', '--url', app.url, '--demo', '--approve-tools'], {
      stdin: `${MATH}\n`,
    });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.split('\n');
    expect(lines).toContain(`[approval] approved ${REQUEST} (--approve-tools)`);
    expect(lines).toContain('[approval] calculator approved');
    expect(stdout).toMatch(/\[tool\] calculator -> 42 \(\d+ ms\)/);
    expect(lines.filter((l) => !l.startsWith('[') && !l.startsWith('>') && l !== '').join('\n')).toContain('42');
  });

  it('--json: stdout stays one event per line (the approval events among them); the denial note goes to stderr', async () => {
    const { code, stdout, stderr } = await cli(['chat', '--url', app.url, '--demo', '--json'], { stdin: `${MATH}\n` });
    expect(code).toBe(0);
    const events = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as RunEvent);
    expect(events.find((e) => e.type === 'tool_approval_requested')).toMatchObject({ tool: 'calculator' });
    expect(events.find((e) => e.type === 'tool_approval_resolved')).toMatchObject({ approved: false, reason: 'user' });
    expect(stderr).toBe(
      `[approval] denied ${REQUEST}: stdin is not a terminal, so no one can be asked (--approve-tools approves every tool call)\n`,
    );
  });

  it('--help documents --approve-tools', async () => {
    const { code, stdout } = await cli(['chat', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('--approve-tools');
    expect(stdout).toContain('[y/N]');
  });
});

describe('CLI chat: tool approvals on a terminal', () => {
  it('asks y/N with the tool and its args; "y" approves and the answer has 42 (in process, an io that is a TTY)', async () => {
    const term = inFakeTerminal(['--url', app.url, '--demo']);
    await sees(term.output, /you › /);
    term.type(`${MATH}\r`);
    await sees(term.output, /Allow calculator \{"expression":"6 \* 7"\}\? \[y\/N\] $/);
    term.type('y\r');
    await sees(term.output, /agent › [^\n]*42[\s\S]*you › [^\n]*$/);
    expect(term.output()).toMatch(/\[y\/N\] y\n {2}✓ calculator approved\n/);
    expect(term.output()).toMatch(/✓ calculator → 42/);
    term.type('/exit\r');
    expect(await term.exited).toBe(0);
  });

  it('Enter denies (the default is No), under a real pseudo-terminal', async () => {
    const term = spawnInTerminal([...MAIN_ARGS, 'chat', '--url', app.url, '--demo'], { env: { NO_COLOR: '1' } });
    const output = (): string => plain(term.output());
    await sees(output, /you › /);
    term.child.stdin.write(`${MATH}\r`);
    await sees(output, /Allow calculator \{"expression":"6 \* 7"\}\? \[y\/N\] $/);
    term.child.stdin.write('\r');
    await sees(output, /agent › [^\n]*[\s\S]*you › [^\n]*$/);
    expect(output()).toMatch(/\[y\/N\] \n {2}✗ calculator denied\n/);
    expect(output()).toContain('✗ calculator failed: approval_denied');
    term.child.stdin.write('/exit\r');
    expect(await term.exited).toBe(0);
  });

  it('a request that expires before an answer: the question is dropped and the expiry shown; the next line is input again (/exit quits)', async () => {
    const term = inFakeTerminal(['--url', hasty.url, '--demo']);
    await sees(term.output, /you › /);
    term.type(`${MATH}\r`);
    await sees(term.output, /\[y\/N\] $/);
    await sees(term.output, /\[y\/N\] \n {2}✗ calculator denied \(expired\)\n/);
    await sees(term.output, /✗ calculator failed: approval_expired[\s\S]*you › $/);
    term.type('/exit\r');
    expect(await term.exited).toBe(0);
  });
});
