import { describe, expect, it } from 'vitest';
import { openAiReply } from '../../../src/testing/fake-llm/index.js';
import { API_KEY, ask, deltasOf, openai, settingsFor, thoughtsOf, toolsOf, useFakeServer } from './helpers.js';

/**
 * The OpenAI-compatible provider against a fake Chat Completions server speaking the real wire format, through the
 * official SDK: streaming, reasoning, tool calls and the exact messages of the follow-up request.
 */
const server = useFakeServer('openai');
const provider = () => openai.provider(settingsFor(server.fake.url));
type Body = {
  model: string;
  stream: boolean;
  stream_options: unknown;
  max_completion_tokens: number;
  messages: Array<Record<string, unknown>>;
  tools: unknown[];
};
const bodyOf = (i: number): Body => server.fake.requests[i]!.body as Body;

describe('OpenAI-compatible provider', () => {
  it('streams text cut mid-line and mid-character into deltas that concatenate to the answer, with usage', async () => {
    const pieces = ['Héllo', ' wörld ', '🎉 ', 'naïve – ', '日本語', ' done.'];
    const before = server.fake.requests.length;
    server.fake.enqueue(openAiReply({ text: pieces, usage: { prompt: 21, completion: 9 } }, { split: 'awkward' }));
    const { result, calls, error } = await ask(provider(), 'say hello');
    expect(error).toBeUndefined();
    expect(deltasOf(calls)).toBe(pieces.join(''));
    expect(result).toEqual({ text: pieces.join(''), usage: { inputTokens: 21, outputTokens: 9 } });
    const request = server.fake.requests[before]!;
    expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
    const body = bodyOf(before);
    expect(body).toMatchObject({
      model: 'fake-model',
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 256,
    });
    expect(body.messages).toEqual([
      { role: 'system', content: expect.any(String) },
      { role: 'user', content: 'say hello' },
    ]);
    expect(body.tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'add',
          description: 'Adds two numbers.',
          parameters: expect.objectContaining({ type: 'object', required: ['a', 'b'] }),
        },
      },
    ]);
    expect(JSON.stringify(body.tools)).not.toContain('$schema');
  });

  it.each(['reasoning_content', 'reasoning'] as const)(
    'turns `%s` deltas into agent_thinking, in whole lines, before the answer',
    async (field) => {
      server.fake.enqueue(
        openAiReply(
          { reasoningField: field, reasoning: ['The user wants ', 'a greeting.\nI will be ', 'brief.'], text: ['Hi!'] },
          { split: 'awkward' },
        ),
      );
      const { result, calls } = await ask(provider(), 'greet me');
      expect(thoughtsOf(calls)).toEqual(['The user wants a greeting.', 'I will be brief.']);
      expect(calls.findIndex((c) => c.type === 'think')).toBeLessThan(calls.findIndex((c) => c.type === 'delta'));
      expect(result?.text).toBe('Hi!');
    },
  );

  it('runs a tool call whose arguments arrive as fragments, and sends its result back as a `tool` message', async () => {
    const before = server.fake.requests.length;
    server.fake.enqueue(
      openai.tools([{ id: 'call_abc123', name: 'add', chunks: ['{"', 'a": 2', ', "b"', ': 3}'] }], {
        split: 'awkward',
        usage: { input: 30, output: 12 },
      }),
      openai.text(['2 + 3 = ', '5'], { usage: { input: 50, output: 4 } }),
    );
    const { result, calls, error } = await ask(provider(), 'add 2 and 3');
    expect(error).toBeUndefined();
    expect(toolsOf(calls)).toEqual([
      { type: 'tool', name: 'add', args: { a: 2, b: 3 }, outcome: { ok: true, result: { sum: 5 } } },
    ]);
    expect(result).toEqual({ text: '2 + 3 = 5', usage: { inputTokens: 80, outputTokens: 16 } });
    expect(server.fake.requests).toHaveLength(before + 2);
    expect(bodyOf(before + 1).messages.slice(1)).toEqual([
      { role: 'user', content: 'add 2 and 3' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_abc123', type: 'function', function: { name: 'add', arguments: '{"a":2,"b":3}' } }],
      },
      { role: 'tool', tool_call_id: 'call_abc123', content: '{"result":{"sum":5}}' },
    ]);
  });

  it('feeds invalid JSON arguments and an unknown tool back to the model as tool errors, and recovers', async () => {
    const before = server.fake.requests.length;
    server.fake.enqueue(
      openai.tools([
        { id: 'call_bad', name: 'add', chunks: ['{"a": 2, "b":'] },
        { id: 'call_ghost', name: 'teleport', chunks: ['{"to": "mars"}'] },
      ]),
      openai.text(['Sorry, let me fix that.']),
    );
    const { result, calls } = await ask(provider(), 'add things');
    const [bad, ghost] = toolsOf(calls);
    expect(bad).toMatchObject({
      name: 'add',
      args: '{"a": 2, "b":',
      outcome: { ok: false, error: { code: 'invalid_arguments' } },
    });
    expect(ghost).toMatchObject({
      name: 'teleport',
      args: { to: 'mars' },
      outcome: { ok: false, error: { code: 'unknown_tool' } },
    });
    const followUp = bodyOf(before + 1).messages;
    const [assistant, badResult, ghostResult] = followUp.slice(-3) as Array<{
      tool_calls?: Array<{ function: { arguments: string } }>;
      content: string;
    }>;
    // The invalid arguments cannot be replayed as JSON: `{}` goes back, and the tool message says what was wrong.
    expect(assistant?.tool_calls?.map((c) => c.function.arguments)).toEqual(['{}', '{"to":"mars"}']);
    expect(JSON.parse(badResult!.content)).toEqual({
      error: { code: 'invalid_arguments', message: expect.stringContaining('not valid JSON') },
    });
    expect(JSON.parse(ghostResult!.content)).toEqual({
      error: { code: 'unknown_tool', message: expect.stringContaining('add') },
    });
    expect(result?.text).toBe('Sorry, let me fix that.');
  });

  it("sets a later step's text off from an earlier step's, so the deltas still concatenate to the answer", async () => {
    server.fake.enqueue(
      openai.tools([{ id: 'c1', name: 'add', chunks: ['{"a":1,"b":1}'] }], { text: ['Let me add.'] }),
      openai.text(['It is 2.']),
    );
    const { result, calls } = await ask(provider(), 'one plus one');
    expect(result?.text).toBe('Let me add.\n\nIt is 2.');
    expect(deltasOf(calls)).toBe(result?.text);
  });

  it('ends with llm_step_limit when the model keeps calling tools, after exactly LLM_MAX_STEPS requests', async () => {
    const before = server.fake.requests.length;
    for (let i = 0; i < 3; i++)
      server.fake.enqueue(
        openai.tools([{ id: `loop_${i}`, name: 'add', chunks: ['{"a":1,"b":1}'] }], {
          usage: { input: 10, output: 1 },
        }),
      );
    const { error, calls } = await ask(provider(), 'loop forever', { maxSteps: 3 });
    expect(error).toMatchObject({ code: 'llm_step_limit' });
    expect(server.fake.requests.length - before).toBe(3);
    // The last step's call is not run: no step would read its result.
    expect(toolsOf(calls)).toHaveLength(2);
  });

  it('works without tools and without a key for a self-hosted server, and without a usage chunk', async () => {
    const before = server.fake.requests.length;
    server.fake.enqueue(openAiReply({ text: ['ok'], usage: null }));
    const { result } = await ask(openai.provider(settingsFor(server.fake.url, { apiKey: undefined })), 'ping', {
      tools: [],
    });
    expect(result).toEqual({ text: 'ok' });
    expect(bodyOf(before).tools).toBeUndefined();
    expect(server.fake.requests[before]!.headers.authorization).toBe('Bearer no-key');
  });
});
