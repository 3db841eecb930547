import { createRunContext, ToolRegistry } from '../../src/agents/index.js';
import type { AgentIO, AgentRequest, RunContext, Tool, ToolOutcome } from '../../src/agents/index.js';

export type Recorded =
  | { type: 'think'; text: string }
  | { type: 'delta'; text: string }
  | { type: 'tool'; name: string; args: unknown; outcome?: ToolOutcome }
  | { type: 'remote_tool_started'; toolCallId: string; tool: string; args: unknown }
  | { type: 'remote_tool_finished'; toolCallId: string; outcome: ToolOutcome }
  | { type: 'agui_event'; event: { type: string } }
  | { type: 'state'; state: unknown };

export const testContext: RunContext = createRunContext({
  userId: 'u1',
  threadId: 't1',
  runId: 'r1',
  connectionId: null,
});

/** An AgentIO that records every call and runs tools through a real ToolRegistry, as the run manager would. */
export function fakeIO(tools: readonly Tool[], signal: AbortSignal): AgentIO & { calls: Recorded[] } {
  const registry = new ToolRegistry(tools);
  const calls: Recorded[] = [];
  return {
    calls,
    tools: registry.specs(),
    think: (text) => void calls.push({ type: 'think', text }),
    delta: (text) => void calls.push({ type: 'delta', text }),
    toolStarted: (toolCallId, tool, args) => void calls.push({ type: 'remote_tool_started', toolCallId, tool, args }),
    toolFinished: (toolCallId, outcome) => {
      calls.push({ type: 'remote_tool_finished', toolCallId, outcome });
      return true;
    },
    aguiEvent: (event) => void calls.push({ type: 'agui_event', event }),
    stateChanged: (state) => void calls.push({ type: 'state', state }),
    callTool: async (name, args) => {
      const call: Extract<Recorded, { type: 'tool' }> = { type: 'tool', name, args };
      calls.push(call);
      const outcome = await registry.invoke(name, args, { run: testContext, signal });
      call.outcome = outcome;
      return outcome;
    },
  };
}

export function request(text: string, signal: AbortSignal = new AbortController().signal): AgentRequest {
  return { context: testContext, text, messageId: 'm-new', history: [], signal };
}
