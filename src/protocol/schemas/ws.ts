import { z } from 'zod';
import { ON_BUSY, type ClientMessage } from '../wire/index.js';
import { NUL_REFUSED } from './nul.js';
import type { SameUnion } from './same-shape.js';

/** A string that reaches storage: U+0000 is refused (PostgreSQL's `text` cannot hold it; see nul.ts). */
const storable = (schema: z.ZodString): z.ZodString => schema.refine((s) => !s.includes('\u0000'), NUL_REFUSED);

const clientId = z.string().min(1).max(128).optional();
/** A user_message id is its idempotency key, kept for the window: storable. */
const messageId = storable(z.string().min(1).max(128)).optional();
const runId = storable(z.string().min(1).max(128));

/** Client → server messages (the wire vocabulary's ClientMessage, checked at run time). */
export const ClientMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('user_message'),
    id: messageId,
    threadId: storable(z.string().min(1).max(128)).optional(),
    text: storable(z.string().trim().min(1, { message: 'text must not be empty' })),
    onBusy: z.enum(ON_BUSY).optional(),
  }),
  z.object({ type: z.literal('cancel_run'), id: clientId, runId }),
  z.object({
    type: z.literal('resume'),
    id: clientId,
    runId,
    afterSeq: z.number().int().min(0),
  }),
  z.object({ type: z.literal('ping'), id: clientId }),
  z.object({ type: z.literal('authenticate'), id: clientId, token: z.string().min(1).max(8192) }),
  z.object({
    type: z.literal('approve_tool'),
    id: clientId,
    runId,
    toolCallId: z.string().min(1).max(128),
    approved: z.boolean(),
  }),
]);

const _clientMessages: SameUnion<z.infer<typeof ClientMessageSchema>, ClientMessage> = true;
void _clientMessages;
