import { z } from 'zod';
import { APPROVAL_REASONS, type RunEvent, type ToolError, type Usage } from '../wire/index.js';
import type { SameShape, SameUnion } from './same-shape.js';

export const UsageSchema = z.object({ inputTokens: z.number().int().min(0), outputTokens: z.number().int().min(0) });
export const ToolErrorSchema = z.object({ code: z.string(), message: z.string() });
/** An AG-UI event as the agent sent it: checked against @ag-ui/core's schema when it arrives, kept whole. */
export const AguiEventPayloadSchema = z.looseObject({ type: z.string() });

const stamp = {
  runId: z.string(),
  threadId: z.string(),
  seq: z.number().int().min(1),
  ts: z.string(),
};

/** Every event a run emits (the wire vocabulary's RunEvent, checked at run time). */
export const RunEventSchema = z.discriminatedUnion('type', [
  z.object({ ...stamp, type: z.literal('agent_started'), agent: z.string().optional() }),
  z.object({ ...stamp, type: z.literal('agent_thinking'), text: z.string() }),
  z.object({
    ...stamp,
    type: z.literal('tool_executing'),
    toolCallId: z.string(),
    tool: z.string(),
    args: z.unknown(),
  }),
  z.object({
    ...stamp,
    type: z.literal('tool_completed'),
    toolCallId: z.string(),
    tool: z.string(),
    result: z.unknown().optional(),
    error: ToolErrorSchema.optional(),
    durationMs: z.number().min(0),
  }),
  z.object({
    ...stamp,
    type: z.literal('tool_approval_requested'),
    toolCallId: z.string(),
    tool: z.string(),
    args: z.unknown(),
    expiresAt: z.string(),
  }),
  z.object({
    ...stamp,
    type: z.literal('tool_approval_resolved'),
    toolCallId: z.string(),
    approved: z.boolean(),
    reason: z.enum(APPROVAL_REASONS),
  }),
  z.object({ ...stamp, type: z.literal('agent_message_delta'), text: z.string() }),
  z.object({ ...stamp, type: z.literal('agui_event'), event: AguiEventPayloadSchema }),
  z.object({
    ...stamp,
    type: z.literal('agent_completed'),
    text: z.string(),
    usage: UsageSchema.optional(),
    durationMs: z.number().min(0),
  }),
  z.object({ ...stamp, type: z.literal('agent_error'), code: z.string(), message: z.string() }),
  z.object({ ...stamp, type: z.literal('run_cancelled') }),
]);

// Compile-time: the schemas and the wire types describe the same events, field for field.
const _runEvents: SameUnion<z.infer<typeof RunEventSchema>, RunEvent> = true;
// Nested objects have their own schema and check: the union check above compares one level of keys.
const _usage: SameShape<z.infer<typeof UsageSchema>, Usage> = true;
const _toolError: SameShape<z.infer<typeof ToolErrorSchema>, ToolError> = true;
void [_runEvents, _usage, _toolError];
