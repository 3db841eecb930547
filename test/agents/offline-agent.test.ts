import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { builtinTools, createClockTool, defineTool, OfflineAgent } from '../../src/agents/index.js';
import type { Tool } from '../../src/agents/index.js';
import { fakeIO, request } from './fake-io.js';
import type { Recorded } from './fake-io.js';

let docsDir: string;
let tools: Tool[];

beforeAll(async () => {
  docsDir = await mkdtemp(join(tmpdir(), 'agentgate-agent-docs-'));
  await writeFile(
    join(docsDir, 'PROTOCOL.md'),
    '# Protocol\n\n## Tickets\n\nExchange your access token for a WebSocket ticket.\n',
  );
  const fixedClock = createClockTool({ now: () => new Date('2026-11-23T13:05:09Z') });
  tools = builtinTools({ docsPaths: [docsDir] }).map((tool) => (tool.name === 'clock' ? fixedClock : tool));
});

afterAll(async () => {
  await rm(docsDir, { recursive: true, force: true });
});

const agent = new OfflineAgent();
const toolCalls = (calls: Recorded[]) => calls.filter((c) => c.type === 'tool');
const deltas = (calls: Recorded[]) => calls.filter((c) => c.type === 'delta').map((c) => c.text);

async function ask(text: string, withTools: readonly Tool[] = tools) {
  const io = fakeIO(withTools, new AbortController().signal);
  const result = await agent.run(request(text), io);
  return { result, calls: io.calls };
}

describe('OfflineAgent', () => {
  it('is called builtin', () => {
    expect(agent.name).toBe('builtin');
  });

  it('"calculate 12*7": thinks first, calls the calculator once, streams an answer with 84', async () => {
    const { result, calls } = await ask('calculate 12*7');
    expect(calls[0]).toMatchObject({ type: 'think' });
    expect((calls[0] as { text: string }).text).toContain('calculator');
    expect(toolCalls(calls)).toEqual([
      {
        type: 'tool',
        name: 'calculator',
        args: { expression: '12*7' },
        outcome: { ok: true, result: { expression: '12*7', result: 84 } },
      },
    ]);
    expect(result.text).toBe('12*7 = 84');
    expect(deltas(calls).join('')).toBe(result.text);
  });

  it('streams a long answer in several small chunks', async () => {
    const { result, calls } = await ask('hello');
    const chunks = deltas(calls);
    expect(chunks.length).toBeGreaterThan(5);
    expect(chunks.every((c) => c.trim().split(/\s+/).length <= 4)).toBe(true);
    expect(chunks.join('')).toBe(result.text);
    expect(result.text).toContain('built-in offline agent');
    expect(result.text).toContain('LLM provider');
    expect(toolCalls(calls)).toEqual([]);
  });

  it.each([
    ['what is (3+4)^2?', '(3+4)^2', '(3+4)^2 = 49'],
    ['compute sqrt(16)', 'sqrt(16)', 'sqrt(16) = 4'],
    ['12*7', '12*7', '12*7 = 84'],
  ])('understands %j as a calculation', async (text, expression, answer) => {
    const { result, calls } = await ask(text);
    expect(toolCalls(calls).map((c) => c.args)).toEqual([{ expression }]);
    expect(result.text).toBe(answer);
  });

  it('tells the time in a named zone', async () => {
    const { result, calls } = await ask('what time is it in Europe/Paris?');
    expect(toolCalls(calls).map((c) => [c.name, c.args])).toEqual([['clock', { timeZone: 'Europe/Paris' }]]);
    expect(result.text).toBe('It is 2026-11-23 14:05:09 in Europe/Paris (UTC+01:00).');
  });

  it('searches the docs and summarises the top result', async () => {
    const { result, calls } = await ask('how do I get a websocket ticket?');
    expect(toolCalls(calls).map((c) => c.name)).toEqual(['search_docs']);
    expect(result.text).toContain('Tickets (');
    expect(result.text).toContain('Exchange your access token for a WebSocket ticket.');
  });

  it('says so when the docs have nothing', async () => {
    const { result } = await ask('search docs for kubernetes');
    expect(result.text).toBe('I found nothing in the docs about "kubernetes".');
  });

  it('waits', async () => {
    const { result, calls } = await ask('wait 0.01 seconds');
    expect(toolCalls(calls).map((c) => [c.name, c.args])).toEqual([['wait', { seconds: 0.01 }]]);
    expect(result.text).toBe('Done waiting 0.01 seconds.');
  });

  it('handles several requests in order', async () => {
    const { result, calls } = await ask('calculate 2+2 and tell me the time in UTC');
    expect(toolCalls(calls).map((c) => [c.name, c.args])).toEqual([
      ['calculator', { expression: '2+2' }],
      ['clock', { timeZone: 'UTC' }],
    ]);
    expect(result.text).toBe('2+2 = 4\nIt is 2026-11-23 13:05:09 in UTC (UTC+00:00).');
  });

  it('apologises with the error when a tool fails, and still completes', async () => {
    const { result, calls } = await ask('calculate 1/0');
    expect(calls.filter((c) => c.type === 'think')).toHaveLength(2);
    expect(result.text).toBe(
      'Sorry, I could not calculate that: The result of "1/0" is not a finite number (Infinity).',
    );
    expect(deltas(calls).join('')).toBe(result.text);
  });

  it('apologises when the tool is missing from its tool set', async () => {
    const { result } = await ask('calculate 1+1', []);
    expect(result.text).toMatch(/^Sorry, I could not calculate that: Unknown tool "calculator"/);
  });

  it('stops with the abort reason when cancelled during a tool', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled by user');
    const io = fakeIO(tools, controller.signal);
    const running = agent.run(request('wait 60 seconds and calculate 1+1', controller.signal), io);
    setTimeout(() => controller.abort(reason), 20);
    await expect(running).rejects.toBe(reason);
    expect(toolCalls(io.calls).map((c) => c.name)).toEqual(['wait']);
    expect(deltas(io.calls)).toEqual([]);
  });

  it('stops streaming when cancelled mid-answer', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const io = fakeIO(tools, controller.signal);
    const delta = io.delta;
    io.delta = (text) => {
      delta(text);
      if (deltas(io.calls).length === 2) controller.abort(reason);
    };
    await expect(agent.run(request('hello', controller.signal), io)).rejects.toBe(reason);
    expect(deltas(io.calls)).toHaveLength(2);
  });

  it('does not start when already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    const io = fakeIO(tools, controller.signal);
    await expect(agent.run(request('calculate 1+1', controller.signal), io)).rejects.toThrow('gone');
    expect(io.calls).toEqual([]);
  });

  it('lets errors from callTool itself (such as the tool-call limit) end the run', async () => {
    const io = fakeIO(tools, new AbortController().signal);
    io.callTool = async () => {
      throw new Error('tool_limit_exceeded');
    };
    await expect(agent.run(request('calculate 1+1'), io)).rejects.toThrow('tool_limit_exceeded');
  });

  it('uses a custom tool result shape defensively', async () => {
    const odd = defineTool({
      name: 'calculator',
      description: 'odd',
      parameters: z.object({ expression: z.string() }),
      execute: async () => 'weird',
    });
    const { result } = await ask('calculate 1+1', [odd]);
    expect(result.text).toBe('1+1 = "weird"');
  });
});
