import { z } from 'zod';
import { noTracing, type Tracing } from '../../telemetry/index.js';
import { raceAbort } from '../abort.js';
import type { Tool, ToolContext, ToolOutcome, ToolSource, ToolSpec } from './tool.js';

/**
 * The tools one agent may call. `invoke` turns every tool problem into a `{ok:false}` outcome so a model can
 * recover from its own mistakes, but lets aborts through: a cancelled run must end as cancelled, not carry on.
 */
export class ToolRegistry {
  readonly #tools = new Map<string, Tool>();
  readonly #specs: readonly ToolSpec[];
  readonly #tracing: Tracing;

  constructor(
    tools: readonly Tool[],
    /** Tools listed at run time (MCP servers): asked after the built-in ones. */
    private readonly sources: readonly ToolSource[] = [],
    /** An `execute_tool <name>` span per call, under the run's span (GenAI semantic conventions). */
    options: { readonly tracing?: Tracing } = {},
  ) {
    this.#tracing = options.tracing ?? noTracing;
    for (const tool of tools) {
      if (this.#tools.has(tool.name)) throw new TypeError(`Duplicate tool name: ${tool.name}`);
      this.#tools.set(tool.name, tool);
    }
    // Computed once so a schema zod cannot express fails at startup rather than in the middle of a run.
    this.#specs = tools.map((tool) =>
      Object.freeze({ name: tool.name, description: tool.description, parameters: jsonSchemaOf(tool) }),
    );
  }

  /** Tool descriptions for model prompts; a fresh copy each time so callers cannot alter the registry's. */
  specs(): ToolSpec[] {
    return [...this.#specs, ...this.sources.flatMap((s) => s.specs())].map((spec) => ({
      ...spec,
      parameters: structuredClone(spec.parameters),
    }));
  }

  has(name: string): boolean {
    return this.#tools.has(name) || this.sources.some((s) => s.has(name));
  }

  get names(): string[] {
    return [...this.#tools.keys(), ...this.sources.flatMap((s) => s.specs().map((spec) => spec.name))];
  }

  async invoke(name: string, rawArgs: unknown, ctx: ToolContext): Promise<ToolOutcome> {
    ctx.signal.throwIfAborted();
    if (!this.#tracing.enabled) return this.#invoke(name, rawArgs, ctx);
    // A name the model made up is not recorded: only the names of tools there are.
    const known = this.has(name);
    const span = this.#tracing.start(
      known ? `execute_tool ${name}` : 'execute_tool',
      'internal',
      {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': known ? name : undefined,
        'gen_ai.tool.call.id': ctx.toolCallId,
        'gen_ai.tool.type': 'function',
      },
      this.#tracing.spanOf(ctx.run),
    );
    try {
      const outcome = await this.#invoke(name, rawArgs, ctx);
      // The code, never the arguments, the result or the message.
      if (!outcome.ok) span.fail(outcome.error.code);
      return outcome;
    } finally {
      span.end();
    }
  }

  async #invoke(name: string, rawArgs: unknown, ctx: ToolContext): Promise<ToolOutcome> {
    const tool = this.#tools.get(name);
    const source = tool === undefined ? this.sources.find((s) => s.has(name)) : undefined;
    if (source !== undefined) {
      const outcome = await source.invoke(name, rawArgs, ctx);
      // A source that ignored the signal must not let a cancelled run look successful either.
      ctx.signal.throwIfAborted();
      return outcome;
    }
    if (!tool)
      return failure('unknown_tool', `Unknown tool "${name}". Available tools: ${this.names.join(', ') || 'none'}.`);

    const parsed = tool.parameters.safeParse(rawArgs);
    if (!parsed.success)
      return failure('invalid_arguments', `Invalid arguments for ${name}: ${describeIssues(parsed.error.issues)}`);

    try {
      const result = await raceAbort(tool.execute(parsed.data, ctx), ctx.signal);
      // A tool that ignored the signal and finished anyway must not let a cancelled run look successful.
      ctx.signal.throwIfAborted();
      return { ok: true, result };
    } catch (err) {
      ctx.signal.throwIfAborted();
      return failure('tool_failed', messageOf(err));
    }
  }
}

function jsonSchemaOf(tool: Tool): Record<string, unknown> {
  // `input` because models write the arguments: fields with defaults are optional to them.
  return z.toJSONSchema(tool.parameters, { io: 'input' });
}

function failure(code: 'unknown_tool' | 'invalid_arguments' | 'tool_failed', message: string): ToolOutcome {
  return { ok: false, error: { code, message } };
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(arguments)';
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

/** Only the message: stacks reveal server paths and mean nothing to a model or a user. */
function messageOf(err: unknown): string {
  if (err instanceof Error && err.message) return err.message;
  if (typeof err === 'string' && err) return err;
  return 'The tool failed without a message.';
}
