import { z } from 'zod';
import { ON_BUSY, type ClientMessage } from '../wire/index.js';
import type { SameUnion } from './same-shape.js';

const clientId = z.string().min(1).max(128).optional();

/** Client → server messages (the wire vocabulary's ClientMessage, checked at run time). */
export const ClientMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('user_message'),
    id: clientId,
    threadId: z.string().min(1).max(128).optional(),
    text: z.string().trim().min(1, { message: 'text must not be empty' }),
    onBusy: z.enum(ON_BUSY).optional(),
  }),
  z.object({ type: z.literal('cancel_run'), id: clientId, runId: z.string().min(1).max(128) }),
  z.object({
    type: z.literal('resume'),
    id: clientId,
    runId: z.string().min(1).max(128),
    afterSeq: z.number().int().min(0),
  }),
  z.object({ type: z.literal('ping'), id: clientId }),
  z.object({ type: z.literal('authenticate'), id: clientId, token: z.string().min(1).max(8192) }),
]);

const _clientMessages: SameUnion<z.infer<typeof ClientMessageSchema>, ClientMessage> = true;
void _clientMessages;
