import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { createTestApp, type TestApp } from '../../src/testing/index.js';
import { cli, MAIN_ARGS, spawnCli, spawnInTerminal } from './helpers.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ DEMO_MODE: '1' });
});
afterAll(async () => {
  await app?.close();
});

// eslint-disable-next-line no-control-regex -- ANSI escape sequences are control characters by definition.
const plain = (text: string): string => text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

/** Resolves once `output()` matches, or fails with what was seen. */
async function sees(output: () => string, pattern: RegExp, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(output())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output so far:\n${output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('CLI chat through a pipe (its own process)', () => {
  it('echo "calculate 12*7" | agentgate chat --demo: prints the tool call and 84, exits 0 when stdin ends', async () => {
    const run = spawnCli(['chat', '--url', app.url, '--demo']);
    run.child.stdin.end('calculate 12*7\n');
    const { code, stdout, stderr } = await run.exited;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.split('\n');
    expect(lines[0]).toBe('> calculate 12*7');
    expect(lines).toContain('[tool] calculator {"expression":"12*7"}');
    expect(stdout).toMatch(/\[tool\] calculator -> 84 \(\d+ ms\)/);
    expect(lines.filter((l) => !l.startsWith('[') && !l.startsWith('>') && l !== '').join('\n')).toContain('84');
  });

  it('--json | head: a reader that goes away ends the chat quietly (exit 0, no EPIPE trace), as Unix tools do', async () => {
    const run = spawnCli(['chat', '--url', app.url, '--demo', '--json']);
    run.child.stdin.end('wait 2 seconds\n');
    // Like `head -n 1`: read the first line, then close the pipe while the run still writes.
    await new Promise<void>((resolve) => {
      const check = (): void => void (run.output().includes('\n') && resolve());
      run.child.stdout.on('data', check);
      check();
    });
    run.child.stdout.destroy();
    const { code, stderr } = await run.exited;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('--json: one JSON event per line, every line of stdin a run in the same thread, in order', async () => {
    const run = spawnCli(['chat', '--url', app.url, '--demo', '--json']);
    run.child.stdin.end('calculate 12*7\n\nwhat is 2+3\n');
    const { code, stdout } = await run.exited;
    expect(code).toBe(0);
    const events = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as RunEvent);
    const runIds = [...new Set(events.map((e) => e.runId))];
    expect(runIds).toHaveLength(2);
    for (const runId of runIds) expect(verifyRunEvents(events.filter((e) => e.runId === runId))).toEqual([]);
    expect(new Set(events.map((e) => e.threadId)).size).toBe(1);
    const answers = events
      .filter((e): e is Extract<RunEvent, { type: 'agent_completed' }> => e.type === 'agent_completed')
      .map((e) => e.text);
    expect(answers[0]).toContain('84');
    expect(answers[1]).toContain('5');
  });
});

describe('CLI chat: Ctrl-C on a pipe', () => {
  it('SIGINT cancels the run in progress, sends nothing more, and exits 130 once the run has ended', async () => {
    const run = spawnCli(['chat', '--url', app.url, '--demo']);
    run.child.stdin.write('wait 20 seconds\nnever sent\n');
    await sees(run.output, /\[tool\] wait/);
    run.child.kill('SIGINT');
    const { code, stdout } = await run.exited;
    expect(code).toBe(130);
    expect(stdout).toContain('[cancelled]');
    expect(stdout).not.toContain('never sent');
  });
});

describe('CLI chat failures (in process)', () => {
  it('no server: 1; no identity: 2; a pipe with --email but no AGENTGATE_PASSWORD: 2', async () => {
    expect((await cli(['chat', '--url', 'http://127.0.0.1:1', '--demo'], { stdin: 'hi\n' })).code).toBe(1);
    const anonymous = await cli(['chat', '--url', app.url], { stdin: 'hi\n' });
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toContain('--email');
    const noPassword = await cli(['chat', '--url', app.url, '--email', 'a@example.com'], { stdin: 'hi\n' });
    expect(noPassword.code).toBe(2);
    expect(noPassword.stderr).toContain('AGENTGATE_PASSWORD');
  });
});

describe('CLI chat on a terminal (a pseudo-terminal from util-linux script)', () => {
  it('prompt, spinner, dimmed thinking, streamed answer; Ctrl-C cancels the run, a second Ctrl-C at the prompt exits 130', async () => {
    const term = spawnInTerminal([...MAIN_ARGS, 'chat', '--url', app.url, '--demo'], { env: { NO_COLOR: '' } });
    await sees(term.output, /you › /);
    term.child.stdin.write('calculate 12*7\r');
    await sees(term.output, /agent › [^\n]*84[\s\S]*you › [^\n]*$/);
    const output = term.output();
    expect(plain(output)).toMatch(/ {2}✓ calculator → 84 \(\d+ ms\)/);
    expect(output).toContain('\x1b[2m  The user asks'); // thinking, dimmed
    expect(output).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/); // the spinner ran

    term.child.stdin.write('wait 20 seconds\r');
    await sees(term.output, /wait \{"seconds":20\}/);
    term.child.stdin.write('\x03');
    await sees(term.output, /cancelled[\s\S]*you › [^\n]*$/);
    term.child.stdin.write('\x03');
    expect(await term.exited).toBe(130);
  });

  it('/exit quits with 0', async () => {
    const term = spawnInTerminal([...MAIN_ARGS, 'chat', '--url', app.url, '--demo']);
    await sees(term.output, /you › /);
    term.child.stdin.write('/exit\r');
    expect(await term.exited).toBe(0);
  });
});
