import { afterAll, beforeAll } from 'vitest';
import { z } from 'zod';
import {
  AnthropicProvider,
  defineTool,
  LlmAgent,
  OpenAiProvider,
  TokenBudget,
  type AgentResult,
  type LlmProvider,
  type ProviderSettings,
  type Tool,
} from '../../../src/agents/index.js';
import { MemoryTokenUsageStore } from '../../../src/storage/index.js';
import {
  anthropicError,
  anthropicReply,
  FakeLlmServer,
  openAiError,
  openAiReply,
  type FakeProtocol,
  type FakeReply,
} from '../../../src/testing/fake-llm/index.js';
import { fakeIO, request, type Recorded } from '../fake-io.js';

export const API_KEY = 'sk-test-SECRET-0123456789abcdef';

/** A tiny deterministic tool, so the tests do not wait for mathjs. */
export const addTool: Tool = defineTool({
  name: 'add',
  description: 'Adds two numbers.',
  parameters: z.object({ a: z.number(), b: z.number() }),
  execute: async ({ a, b }) => ({ sum: a + b }),
});

export interface ToolCallScript {
  readonly id: string;
  readonly name: string;
  readonly chunks: readonly string[];
}

interface ReplyOptions {
  readonly split?: 'awkward' | number;
  readonly stallAfterBytes?: number;
  readonly usage?: { readonly input: number; readonly output: number };
}

/** One wire protocol, seen from the tests: scripted replies and a provider pointed at a URL. */
export interface Dialect {
  readonly protocol: FakeProtocol;
  text(pieces: readonly string[], options?: ReplyOptions): FakeReply;
  tools(calls: readonly ToolCallScript[], options?: ReplyOptions & { text?: readonly string[] }): FakeReply;
  error(status: number, type: string, headers?: Record<string, string>): FakeReply;
  /** A stream that stops before the API says it is done. */
  truncated(pieces: readonly string[]): FakeReply;
  provider(settings: ProviderSettings): LlmProvider;
}

export const openai: Dialect = {
  protocol: 'openai',
  text: (pieces, o = {}) =>
    openAiReply({ text: pieces, usage: o.usage && { prompt: o.usage.input, completion: o.usage.output } }, o),
  tools: (calls, o = {}) =>
    openAiReply(
      {
        ...(o.text ? { text: o.text } : {}),
        toolCalls: calls.map((c) => ({ id: c.id, name: c.name, argumentChunks: c.chunks })),
        usage: o.usage && { prompt: o.usage.input, completion: o.usage.output },
      },
      o,
    ),
  error: (status, type, headers) => openAiError(status, type, `fake ${type}`, headers),
  truncated: (pieces) => openAiReply({ text: pieces, finish: null, usage: null, done: false }),
  provider: (settings) => new OpenAiProvider(settings),
};

export const anthropic: Dialect = {
  protocol: 'anthropic',
  text: (pieces, o = {}) => anthropicReply({ text: pieces, ...(o.usage ? { usage: o.usage } : {}) }, o),
  tools: (calls, o = {}) =>
    anthropicReply(
      {
        ...(o.text ? { text: o.text } : {}),
        toolUses: calls.map((c) => ({ id: c.id, name: c.name, jsonChunks: c.chunks })),
        ...(o.usage ? { usage: o.usage } : {}),
      },
      o,
    ),
  error: (status, type, headers) => anthropicError(status, type, `fake ${type}`, headers),
  truncated: (pieces) => anthropicReply({ text: pieces, truncate: true }),
  provider: (settings) => new AnthropicProvider(settings),
};

export function settingsFor(url: string, overrides: Partial<ProviderSettings> = {}): ProviderSettings {
  return {
    baseUrl: url,
    apiKey: API_KEY,
    model: 'fake-model',
    timeoutMs: 2_000,
    maxRetries: 0,
    maxOutputTokens: 256,
    thinkingBudgetTokens: 0,
    ...overrides,
  };
}

/** A fake server of the dialect's protocol for the tests of the enclosing file or describe block. */
export function useFakeServer(protocol: FakeProtocol): { readonly fake: FakeLlmServer } {
  const holder: { fake?: FakeLlmServer } = {};
  beforeAll(async () => {
    holder.fake = await FakeLlmServer.start(protocol);
  });
  afterAll(async () => {
    await holder.fake?.close();
  });
  return {
    get fake(): FakeLlmServer {
      if (holder.fake === undefined) throw new Error('fake server not started');
      return holder.fake;
    },
  };
}

export interface Outcome {
  readonly result?: AgentResult;
  readonly error?: unknown;
  readonly calls: Recorded[];
  readonly ms: number;
}

/** Runs an LlmAgent over `provider` with a recording AgentIO (a real ToolRegistry behind it). Never throws. */
export async function ask(
  provider: LlmProvider,
  text: string,
  options: {
    maxSteps?: number;
    tools?: readonly Tool[];
    signal?: AbortSignal;
    budget?: TokenBudget;
    userId?: string;
    live?: Recorded[][];
  } = {},
): Promise<Outcome> {
  const signal = options.signal ?? new AbortController().signal;
  const io = fakeIO(options.tools ?? [addTool], signal);
  // Lets a test watch the calls while the run goes on.
  options.live?.push(io.calls);
  const agent = new LlmAgent({ provider, maxSteps: options.maxSteps ?? 4, budget: options.budget });
  const started = Date.now();
  const req = request(text, signal);
  const withUser = options.userId === undefined ? req : { ...req, context: { ...req.context, userId: options.userId } };
  try {
    const result = await agent.run(withUser, io);
    return { result, calls: io.calls, ms: Date.now() - started };
  } catch (error) {
    return { error, calls: io.calls, ms: Date.now() - started };
  }
}

export const deltasOf = (calls: readonly Recorded[]): string =>
  calls.flatMap((c) => (c.type === 'delta' ? [c.text] : [])).join('');
export const thoughtsOf = (calls: readonly Recorded[]): string[] =>
  calls.flatMap((c) => (c.type === 'think' ? [c.text] : []));
export const toolsOf = (calls: readonly Recorded[]): Array<Extract<Recorded, { type: 'tool' }>> =>
  calls.filter((c): c is Extract<Recorded, { type: 'tool' }> => c.type === 'tool');

export function budgetOf(
  perUser: number,
  store = new MemoryTokenUsageStore(),
): { budget: TokenBudget; store: MemoryTokenUsageStore } {
  return { budget: new TokenBudget(store, { perUser, windowHours: 24 }), store };
}
