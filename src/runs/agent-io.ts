import type { AgentIO, ToolOutcome, ToolRegistry } from '../agents/index.js';
import { AppError } from '../errors/index.js';
import type { ActiveRun } from './active-run.js';
import { refusal, type ApprovalGate } from './approvals.js';

export interface AgentIOOptions {
  readonly tools: ToolRegistry;
  readonly maxToolCalls: number;
  /** Tools that need a person's approval wait here before they run. */
  readonly approvals: ApprovalGate;
  /** The thread state the agent reports (the executor stores the last one when the run ends). */
  readonly onState?: (state: unknown) => void;
}

/** The AgentIO of one run: every call becomes an event of that run, tool calls are counted and made abortable. */
export function createAgentIO(run: ActiveRun, options: AgentIOOptions): AgentIO {
  const { tools, maxToolCalls, approvals, onState = () => {} } = options;
  return {
    // Read only by agents that describe tools to a model: not built for every run.
    get tools() {
      return tools.specs();
    },
    think: (text) => run.emit({ type: 'agent_thinking', text }),
    delta: (text) => {
      if (text.length > 0) run.emit({ type: 'agent_message_delta', text });
    },
    toolStarted: (toolCallId, tool, args) => void run.beginToolCall(tool, args, toolCallId),
    toolFinished: (toolCallId, outcome) => run.completeToolCall(toolCallId, outcome),
    aguiEvent: (event) => run.emit({ type: 'agui_event', event }),
    stateChanged: (state) => onState(state),
    async callTool(name, args): Promise<ToolOutcome> {
      run.signal.throwIfAborted();
      if (run.countToolCall() > maxToolCalls) {
        throw new AppError('tool_limit_exceeded', `The run asked for more than ${maxToolCalls} tool calls.`);
      }
      const toolCallId = run.beginToolCall(name, args);
      if (approvals.requires(name)) {
        const decision = await approvals.wait(run, toolCallId, name, args);
        if (!decision.approved) {
          const refused = refusal(decision.reason);
          // A cancel already completed the call (before the terminal event): the run ends, the model is not told.
          if (!run.completeToolCall(toolCallId, refused)) run.signal.throwIfAborted();
          return refused;
        }
      }
      const outcome = await tools.invoke(name, args, { run: run.context, signal: run.signal, toolCallId });
      if (!run.completeToolCall(toolCallId, outcome)) run.signal.throwIfAborted();
      return outcome;
    },
  };
}
