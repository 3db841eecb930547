import { AppError, isAppError } from '../../errors/index.js';
import type { Usage } from '../../protocol/index.js';
import { noTracing, type SpanAttributes, type Tracing } from '../../telemetry/index.js';
import type { Agent, AgentIO, AgentRequest, AgentResult, HistoryMessage } from '../agent.js';
import type {
  ConversationTurn,
  LlmProvider,
  ModelToolCall,
  ModelToolResult,
  StepResult,
  StepSink,
} from './provider.js';
import type { TokenBudget } from './token-budget.js';
import { silentLogger, type ProviderLogger } from './transport.js';

const DEFAULT_SYSTEM_PROMPT = [
  'You are the assistant of an agentgate server, answering one user in a chat.',
  'Use the tools you are given whenever they help (a calculator for any arithmetic, a clock for the time, a documentation search for questions about agentgate), and do not invent their results.',
  'When a tool returns an error, fix the call or explain the problem to the user.',
  'Answer concisely, in the language of the user.',
].join(' ');

/** What the model reads back from one tool call is cut here: a huge result would only burn the context window. */
const MAX_TOOL_RESULT_CHARS = 16_000;
/** Reasoning is shown in `agent_thinking` events of whole lines, or of this many characters at most. */
const THINKING_CHUNK_CHARS = 600;

export interface LlmAgentOptions {
  readonly provider: LlmProvider;
  readonly systemPrompt?: string | undefined;
  /** Model calls per run; a model still asking for tools after the last one ends the run `llm_step_limit`. */
  readonly maxSteps: number;
  /** Checked before every model call and fed after every step; omitted: nothing is counted. */
  readonly budget?: TokenBudget | undefined;
  readonly logger?: ProviderLogger | undefined;
  /** A `chat <model>` span per model call, under the run's span (GenAI semantic conventions). */
  readonly tracing?: Tracing | undefined;
  /** Attributes every model call's span carries besides the GenAI ones (server.address, the output limit). */
  readonly spanAttributes?: SpanAttributes | undefined;
}

/**
 * An agent whose answers come from a language model: it streams one model step at a time, runs the tools the model
 * asks for through AgentIO (which validates their arguments and emits their events), feeds the results back and
 * stops when the model answers without calling a tool. Provider-neutral: the LlmProvider owns the wire format.
 */
export class LlmAgent implements Agent {
  readonly name: string;
  readonly #options: LlmAgentOptions;
  readonly #logger: ProviderLogger;
  readonly #tracing: Tracing;

  constructor(options: LlmAgentOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#tracing = options.tracing ?? noTracing;
    this.name = `${options.provider.kind}:${options.provider.model}`;
  }

  async run(request: AgentRequest, io: AgentIO): Promise<AgentResult> {
    const { provider, maxSteps, budget } = this.#options;
    const { userId } = request.context;
    const turns: ConversationTurn[] = [...historyTurns(request.history), { role: 'user', text: request.text }];
    const answer = new AnswerStream(io);
    const total: Usage = { inputTokens: 0, outputTokens: 0 };
    let usageReported = false;

    for (let step = 1; step <= maxSteps; step++) {
      request.signal.throwIfAborted();
      // Before every call, so neither the first request nor a later one goes out over budget.
      await budget?.check(userId);
      const sink = answer.startStep();
      const span = this.#tracing.start(
        `chat ${provider.model}`,
        'client',
        {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': provider.kind,
          'gen_ai.request.model': provider.model,
          ...this.#options.spanAttributes,
        },
        this.#tracing.spanOf(request.context),
      );
      let result: StepResult;
      try {
        result = await provider.streamStep(
          {
            system: this.#options.systemPrompt ?? DEFAULT_SYSTEM_PROMPT,
            turns,
            tools: io.tools,
            signal: request.signal,
          },
          sink,
        );
        span.set({ 'gen_ai.response.finish_reasons': [result.finish] });
      } catch (err) {
        if (isAppError(err) && !request.signal.aborted)
          this.#logger.warn(
            { provider: provider.kind, model: provider.model, step, code: err.code },
            'model step failed',
          );
        // The code, never the message: an API's error message may quote the conversation.
        if (!request.signal.aborted) span.fail(isAppError(err) ? err.code : '_OTHER');
        throw err;
      } finally {
        answer.endStep();
        if (sink.reported)
          span.set({
            'gen_ai.usage.input_tokens': sink.stepUsage.inputTokens,
            'gen_ai.usage.output_tokens': sink.stepUsage.outputTokens,
          });
        span.end();
        // Counted even when the step failed: tokens the API reported were spent.
        if (sink.reported) {
          usageReported = true;
          total.inputTokens += sink.stepUsage.inputTokens;
          total.outputTokens += sink.stepUsage.outputTokens;
          await budget
            ?.record(userId, sink.stepUsage)
            .catch((err: unknown) => this.#logger.warn({ userId, err }, 'token usage could not be recorded'));
        }
      }
      if (result.finish === 'length')
        io.think('The model reached its output limit (LLM_MAX_OUTPUT_TOKENS), so this step may be cut short.');
      if (result.toolCalls.length === 0) return { text: answer.text, ...(usageReported ? { usage: total } : {}) };
      // The last step asked for tools whose results no step would read: running them would waste them.
      if (step === maxSteps) break;
      turns.push({ role: 'assistant', text: result.text, reasoning: result.reasoning, toolCalls: result.toolCalls });
      turns.push({ role: 'tool_results', results: await runToolCalls(result.toolCalls, io) });
    }
    throw new AppError('llm_step_limit', `The model was still calling tools after ${maxSteps} steps.`);
  }
}

/** Earlier messages of the thread; empty ones (an answer that was only tool calls) say nothing and some APIs refuse them. */
function historyTurns(history: readonly HistoryMessage[]): ConversationTurn[] {
  return history
    .filter((m) => m.text.trim() !== '')
    .map((m) =>
      m.role === 'user'
        ? { role: 'user', text: m.text }
        : { role: 'assistant', text: m.text, reasoning: [], toolCalls: [] },
    );
}

/** Runs the calls in order. Bad JSON and unknown tools still go through AgentIO, so they show as tool events. */
async function runToolCalls(calls: readonly ModelToolCall[], io: AgentIO): Promise<ModelToolResult[]> {
  const results: ModelToolResult[] = [];
  for (const call of calls) {
    const parsed = parseArguments(call.argumentsText);
    // Unparsable arguments are passed as the raw string: no tool schema accepts it, so the registry answers
    // `invalid_arguments` and the events show exactly what the model wrote.
    const outcome = await io.callTool(call.name, parsed.ok ? parsed.value : call.argumentsText);
    let content: unknown;
    if (outcome.ok) content = { result: outcome.result ?? null };
    else if (!parsed.ok && outcome.error.code === 'invalid_arguments') {
      content = {
        error: {
          code: 'invalid_arguments',
          message: `The arguments are not valid JSON (${parsed.reason}). Call ${call.name} again with a JSON object that matches its schema.`,
        },
      };
    } else content = { error: outcome.error };
    results.push({
      toolCallId: call.id,
      name: call.name,
      content: truncate(JSON.stringify(content)),
      isError: !outcome.ok,
    });
  }
  return results;
}

function parseArguments(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  // Several servers send "" for a call without arguments.
  if (text.trim() === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : 'unparsable' };
  }
}

function truncate(text: string): string {
  return text.length <= MAX_TOOL_RESULT_CHARS
    ? text
    : `${text.slice(0, MAX_TOOL_RESULT_CHARS)}… [truncated: ${text.length} characters in all]`;
}

interface StepStream extends StepSink {
  readonly reported: boolean;
  readonly stepUsage: Usage;
}

/**
 * The answer as streamed over all steps: text goes out as `agent_message_delta` at once; reasoning is gathered
 * into readable `agent_thinking` events. The deltas always concatenate to `text` (a step's text after an earlier
 * step's is set off by a blank line).
 */
class AnswerStream {
  text = '';
  #thinking = '';
  #stepHasText = false;

  constructor(private readonly io: AgentIO) {}

  startStep(): StepStream {
    this.#stepHasText = false;
    let stepUsage: Usage = { inputTokens: 0, outputTokens: 0 };
    let reported = false;
    return {
      text: (delta) => this.#text(delta),
      reasoning: (delta) => this.#reasoning(delta),
      usage: (usage) => {
        stepUsage = usage;
        reported = true;
      },
      get reported() {
        return reported;
      },
      get stepUsage() {
        return stepUsage;
      },
    };
  }

  endStep(): void {
    this.#flushThinking(this.#thinking.length);
  }

  #text(delta: string): void {
    if (delta === '') return;
    this.#flushThinking(this.#thinking.length);
    if (!this.#stepHasText && this.text !== '' && !/\s$/.test(this.text)) this.#emit('\n\n');
    this.#stepHasText = true;
    this.#emit(delta);
  }

  #emit(delta: string): void {
    this.text += delta;
    this.io.delta(delta);
  }

  #reasoning(delta: string): void {
    this.#thinking += delta;
    const lineEnd = this.#thinking.lastIndexOf('\n') + 1;
    if (lineEnd > 0) this.#flushThinking(lineEnd);
    else if (this.#thinking.length >= THINKING_CHUNK_CHARS) this.#flushThinking(this.#thinking.length);
  }

  #flushThinking(upTo: number): void {
    const piece = this.#thinking.slice(0, upTo).trim();
    this.#thinking = this.#thinking.slice(upTo);
    if (piece !== '') this.io.think(piece);
  }
}
