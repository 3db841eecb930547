import { contentToText } from '@ag-ui/core';
import { RunAgentInputSchema } from '@ag-ui/core/schemas';
import { AppError } from '../errors/index.js';

/** What a POST /agui asks for, in our terms. */
interface AguiRunRequest {
  /** Client-minted; honoured (created for the caller when new). */
  readonly threadId: string;
  /** Client-minted; honoured. */
  readonly runId: string;
  /** The last message, which must be the user's: the new prompt. Earlier history comes from our storage. */
  readonly text: string;
}

const MAX_ID_LENGTH = 128;

/** Validates a RunAgentInput with @ag-ui/core's own schema; invalid input is `invalid_request` (400). */
export function parseRunAgentInput(body: unknown): AguiRunRequest {
  const parsed = RunAgentInputSchema.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new AppError('invalid_request', `Invalid RunAgentInput: ${issues}.`);
  }
  const { threadId, runId, messages } = parsed.data;
  for (const [name, value] of [
    ['threadId', threadId],
    ['runId', runId],
  ] as const) {
    if (value.length === 0 || value.length > MAX_ID_LENGTH)
      throw new AppError('invalid_request', `${name} must be 1 to ${MAX_ID_LENGTH} characters.`);
  }
  const last = messages.at(-1);
  if (last?.role !== 'user') throw new AppError('invalid_request', "The last message must be the user's new message.");
  const text = contentToText(last.content).trim();
  if (text === '') throw new AppError('invalid_request', "The user's message has no text.");
  return { threadId, runId, text };
}
