import { describe, expect, it } from 'vitest';
import { anthropicReply } from '../../../src/testing/fake-llm/index.js';
import { anthropic, API_KEY, ask, deltasOf, settingsFor, thoughtsOf, toolsOf, useFakeServer } from './helpers.js';

/**
 * The Anthropic provider against a fake Messages API speaking the real event stream, through the official SDK:
 * text, extended thinking, tool use with `input_json_delta` fragments, and the exact follow-up request.
 */
const server = useFakeServer('anthropic');
const provider = (thinkingBudgetTokens = 0) =>
  anthropic.provider(settingsFor(server.fake.url, { thinkingBudgetTokens, maxOutputTokens: 2048 }));
type Body = {
  model: string;
  max_tokens: number;
  stream: boolean;
  system: string;
  thinking?: unknown;
  messages: Array<{ role: string; content: unknown }>;
  tools: unknown[];
};
const bodyOf = (i: number): Body => server.fake.requests[i]!.body as Body;

describe('Anthropic provider', () => {
  it('streams text cut mid-line and mid-character (pings in between) into deltas, with usage', async () => {
    const pieces = ['Grüße', ' 👋🏽', ' — ça va?'];
    const before = server.fake.requests.length;
    server.fake.enqueue(anthropicReply({ text: pieces, usage: { input: 40, output: 6 } }, { split: 'awkward' }));
    const { result, calls, error } = await ask(provider(), 'greet me');
    expect(error).toBeUndefined();
    expect(deltasOf(calls)).toBe(pieces.join(''));
    expect(result).toEqual({ text: pieces.join(''), usage: { inputTokens: 40, outputTokens: 6 } });
    const request = server.fake.requests[before]!;
    expect(`${String(request.headers['x-api-key'] ?? '')} ${String(request.headers.authorization ?? '')}`).toContain(
      API_KEY,
    );
    expect(request.headers['anthropic-version']).toEqual(expect.any(String));
    const body = bodyOf(before);
    expect(body).toMatchObject({ model: 'fake-model', max_tokens: 2048, stream: true, system: expect.any(String) });
    expect(body.thinking).toBeUndefined();
    expect(body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'greet me' }] }]);
    expect(body.tools).toEqual([
      {
        name: 'add',
        description: 'Adds two numbers.',
        input_schema: expect.objectContaining({ type: 'object', required: ['a', 'b'] }),
      },
    ]);
  });

  it('shows thinking as agent_thinking, and sends the signed thinking block back with the tool result', async () => {
    const before = server.fake.requests.length;
    server.fake.enqueue(
      anthropicReply(
        {
          thinking: { chunks: ['I need ', 'to add.\n', 'Use the tool.'], signature: 'sig-EqQBCgIYAh' },
          text: ['Adding.'],
          toolUses: [{ id: 'toolu_01', name: 'add', jsonChunks: ['{"a": 4', '0, "b": 2}'] }],
        },
        { split: 'awkward' },
      ),
      anthropic.text(['40 + 2 = 42.']),
    );
    const { result, calls } = await ask(provider(1024), 'add 40 and 2');
    expect(thoughtsOf(calls)).toEqual(['I need to add.', 'Use the tool.']);
    expect(toolsOf(calls)).toEqual([
      { type: 'tool', name: 'add', args: { a: 40, b: 2 }, outcome: { ok: true, result: { sum: 42 } } },
    ]);
    expect(result?.text).toBe('Adding.\n\n40 + 2 = 42.');
    expect(bodyOf(before).thinking).toEqual({ type: 'enabled', budget_tokens: 1024 });
    expect(bodyOf(before + 1).messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'add 40 and 2' }] },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'I need to add.\nUse the tool.', signature: 'sig-EqQBCgIYAh' },
          { type: 'text', text: 'Adding.' },
          { type: 'tool_use', id: 'toolu_01', name: 'add', input: { a: 40, b: 2 } },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '{"result":{"sum":42}}' }] },
    ]);
  });

  it('feeds invalid JSON input and an unknown tool back as tool_result blocks with is_error, and recovers', async () => {
    const before = server.fake.requests.length;
    server.fake.enqueue(
      anthropic.tools([
        { id: 'toolu_bad', name: 'add', chunks: ['{"a": 1,'] },
        { id: 'toolu_ghost', name: 'teleport', chunks: ['{}'] },
      ]),
      anthropic.text(['I could not do that.']),
    );
    const { result, calls } = await ask(provider(), 'do it');
    expect(toolsOf(calls).map((c) => c.outcome)).toEqual([
      { ok: false, error: { code: 'invalid_arguments', message: expect.any(String) } },
      { ok: false, error: { code: 'unknown_tool', message: expect.any(String) } },
    ]);
    const [assistant, results] = bodyOf(before + 1).messages.slice(-2) as Array<{
      content: Array<Record<string, unknown>>;
    }>;
    expect(assistant?.content).toEqual([
      { type: 'tool_use', id: 'toolu_bad', name: 'add', input: {} },
      { type: 'tool_use', id: 'toolu_ghost', name: 'teleport', input: {} },
    ]);
    expect(results?.content).toEqual([
      {
        type: 'tool_result',
        tool_use_id: 'toolu_bad',
        content: expect.stringContaining('not valid JSON'),
        is_error: true,
      },
      {
        type: 'tool_result',
        tool_use_id: 'toolu_ghost',
        content: expect.stringContaining('unknown_tool'),
        is_error: true,
      },
    ]);
    expect(result?.text).toBe('I could not do that.');
  });

  it('ends with llm_step_limit when the model keeps calling tools', async () => {
    const before = server.fake.requests.length;
    for (let i = 0; i < 2; i++)
      server.fake.enqueue(anthropic.tools([{ id: `toolu_loop${i}`, name: 'add', chunks: ['{"a":1,"b":2}'] }]));
    const { error, calls } = await ask(provider(), 'loop', { maxSteps: 2 });
    expect(error).toMatchObject({ code: 'llm_step_limit' });
    expect(server.fake.requests.length - before).toBe(2);
    expect(toolsOf(calls)).toHaveLength(1);
  });

  it.each([
    ['overloaded_error', 'llm_unavailable'],
    ['rate_limit_error', 'llm_rate_limited'],
    ['invalid_request_error', 'llm_request_rejected'],
  ])(
    'an `error` event (%s) in the middle of the stream ends with %s, after the text already streamed',
    async (type, code) => {
      server.fake.enqueue(
        anthropicReply(
          { text: ['partial answer'], errorEvent: { type, message: `fake ${type}` } },
          { split: 'awkward' },
        ),
      );
      const { error, calls } = await ask(provider(), 'hello');
      expect(error).toMatchObject({ code });
      expect(deltasOf(calls)).toBe('partial answer');
    },
  );
});
