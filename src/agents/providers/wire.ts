import type { ToolSpec } from '../tools/tool.js';

/** A tool's JSON Schema as the APIs take it: the `$schema` keyword is dropped (some servers refuse it). */
export function toolParameters(spec: ToolSpec): Record<string, unknown> {
  const { $schema: _dialect, ...schema } = spec.parameters;
  return schema;
}

/**
 * The arguments of an earlier call as sent back to the model: as written when they were a JSON object, else `{}`.
 * Anthropic takes only an object, and some OpenAI-compatible servers parse the string in their chat template; the
 * tool result that follows tells the model what was wrong.
 */
export function replayedArguments(argumentsText: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(argumentsText);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
