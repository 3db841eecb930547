import { z } from 'zod';
import type { ActiveRun, ChatMessage, ControlMessage, PendingApproval } from '../wire/index.js';
import { RunEventSchema } from './events.js';
import type { SameShape, SameUnion } from './same-shape.js';

/**
 * Server → client messages as schemas: what docs/schemas/ publishes as JSON Schema. The server does not parse its
 * own messages with them; they are held to the wire vocabulary's ControlMessage at compile time, and test/api checks
 * messages captured from a live server against the published files.
 */

const replyTo = z.string().nullable().meta({ description: "The client message's `id`, or null." });

export const PendingApprovalSchema = z.object({
  toolCallId: z.string(),
  tool: z.string(),
  args: z.unknown(),
  expiresAt: z.string(),
});

export const ActiveRunSchema = z.object({
  runId: z.string(),
  threadId: z.string(),
  lastSeq: z.number().int().min(0),
  pendingApprovals: z.array(PendingApprovalSchema),
});

export const ChatMessageSchema = z.object({
  id: z.string(),
  role: z.literal('user'),
  text: z.string(),
  createdAt: z.string(),
});

/** Server → client messages that are not run events. */
export const ControlMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('connection_established'),
    connectionId: z.string(),
    userId: z.string(),
    serverTime: z.string(),
    heartbeatIntervalMs: z.number().int(),
    activeRuns: z.array(ActiveRunSchema),
  }),
  z.object({ type: z.literal('message_accepted'), replyTo, threadId: z.string(), runId: z.string() }),
  z.object({ type: z.literal('message_added'), threadId: z.string(), runId: z.string(), message: ChatMessageSchema }),
  z.object({
    type: z.literal('error'),
    code: z.string(),
    message: z.string(),
    replyTo,
    retryAfterSeconds: z.number().optional(),
  }),
  z.object({ type: z.literal('pong'), replyTo }),
  z.object({ type: z.literal('token_expiring'), expiresAt: z.string() }),
  z.object({ type: z.literal('authenticated'), replyTo, expiresAt: z.string() }),
  z.object({
    type: z.literal('resumed'),
    replyTo,
    runId: z.string(),
    lastSeq: z.number().int().min(0),
    finished: z.boolean(),
  }),
]);

/** Everything the server sends on a socket: a control message or a run event. */
export const ServerMessageSchema = z.union([ControlMessageSchema, RunEventSchema]);

// Compile-time: the schemas and the wire types describe the same messages, field for field.
const _controlMessages: SameUnion<z.infer<typeof ControlMessageSchema>, ControlMessage> = true;
const _nested: [
  SameShape<z.infer<typeof PendingApprovalSchema>, PendingApproval>,
  SameShape<z.infer<typeof ActiveRunSchema>, ActiveRun>,
  SameShape<z.infer<typeof ChatMessageSchema>, ChatMessage>,
] = [true, true, true];
void [_controlMessages, _nested];
