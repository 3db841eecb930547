import { randomUUID } from 'node:crypto';
import type { AgentIO, ToolOutcome, ToolRegistry } from '../agents/index.js';
import { AppError } from '../errors/index.js';
import type { ActiveRun } from './active-run.js';

/** The AgentIO of one run: every call becomes an event of that run, tool calls are counted and made abortable. */
export function createAgentIO(run: ActiveRun, tools: ToolRegistry, maxToolCalls: number, now: () => number): AgentIO {
  return {
    // Read only by agents that describe tools to a model: not built for every run.
    get tools() {
      return tools.specs();
    },
    think: (text) => run.emit({ type: 'agent_thinking', text }),
    delta: (text) => {
      if (text.length > 0) run.emit({ type: 'agent_message_delta', text });
    },
    async callTool(name, args): Promise<ToolOutcome> {
      run.signal.throwIfAborted();
      run.toolCallCount += 1;
      if (run.toolCallCount > maxToolCalls) {
        throw new AppError('tool_limit_exceeded', `The run asked for more than ${maxToolCalls} tool calls.`);
      }
      const toolCallId = `call_${randomUUID()}`;
      const startedAt = now();
      run.openToolCalls.set(toolCallId, { tool: name, startedAt });
      run.emit({ type: 'tool_executing', toolCallId, tool: name, args });
      const outcome = await tools.invoke(name, args, { run: run.context, signal: run.signal });
      // If the run ended meanwhile, end() already closed this call.
      if (!run.openToolCalls.delete(toolCallId)) run.signal.throwIfAborted();
      const durationMs = now() - startedAt;
      run.emit(
        outcome.ok
          ? { type: 'tool_completed', toolCallId, tool: name, result: outcome.result, durationMs }
          : { type: 'tool_completed', toolCallId, tool: name, error: outcome.error, durationMs },
      );
      return outcome;
    },
  };
}
