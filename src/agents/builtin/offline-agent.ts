import type { Agent, AgentIO, AgentRequest, AgentResult } from '../agent.js';
import { planIntents } from './intents.js';
import { answerFor, apologyFor, chunksOf, HELP_TEXT, planThought, toolCallFor } from './phrasing.js';

/**
 * The agent that works with no model and no network: it recognises a few kinds of requests by pattern, serves
 * them with the built-in tools and streams a templated answer. Deterministic, so tests and demos can rely on it.
 */
export class OfflineAgent implements Agent {
  readonly name = 'builtin';

  async run(request: AgentRequest, io: AgentIO): Promise<AgentResult> {
    const { signal } = request;
    signal.throwIfAborted();
    const intents = planIntents(request.text);
    io.think(planThought(intents));

    const answers: string[] = [];
    for (const intent of intents) {
      signal.throwIfAborted();
      const call = toolCallFor(intent);
      // Aborts and the tool-call limit throw here and end the run; tool problems come back as outcomes.
      const outcome = await io.callTool(call.name, call.args);
      if (outcome.ok) {
        answers.push(answerFor(intent, outcome.result));
      } else {
        io.think(
          `The ${call.name} tool failed (${outcome.error.code}), so I will apologise and pass on its error: ${outcome.error.message}`,
        );
        answers.push(apologyFor(intent, outcome.error.message));
      }
    }
    signal.throwIfAborted();

    const text = answers.length > 0 ? answers.join('\n') : HELP_TEXT;
    let streamed = '';
    for (const chunk of chunksOf(text)) {
      // Yield between chunks so a cancel arriving mid-answer is seen before the next one.
      await new Promise<void>((resolve) => setImmediate(resolve));
      signal.throwIfAborted();
      io.delta(chunk);
      streamed += chunk;
    }
    return { text: streamed };
  }
}
