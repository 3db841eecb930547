import { z } from 'zod';
import type { RunEvent } from './events.js';

/** The subprotocol the server speaks and answers with (never the token that came with it). */
export const SUBPROTOCOL = 'agentgate.v1';
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';

const clientId = z.string().min(1).max(128).optional();

export const ON_BUSY = ['enqueue', 'interrupt', 'reject'] as const;
/** What a user_message does when its thread already has a run in progress (default `enqueue`). */
export type OnBusy = (typeof ON_BUSY)[number];

/** Client → server messages. */
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
export type ClientMessage = z.infer<typeof ClientMessageSchema>;
export type ClientMessageType = ClientMessage['type'];

export interface ActiveRun {
  runId: string;
  threadId: string;
  lastSeq: number;
}

export interface ChatMessage {
  id: string;
  role: 'user';
  text: string;
  createdAt: string;
}

/** Server → client messages that are not run events. */
export type ControlMessage =
  | {
      type: 'connection_established';
      connectionId: string;
      userId: string;
      serverTime: string;
      heartbeatIntervalMs: number;
      activeRuns: ActiveRun[];
    }
  | { type: 'message_accepted'; replyTo: string | null; threadId: string; runId: string }
  | { type: 'message_added'; threadId: string; runId: string; message: ChatMessage }
  | { type: 'error'; code: string; message: string; replyTo: string | null }
  | { type: 'pong'; replyTo: string | null }
  | { type: 'token_expiring'; expiresAt: string }
  | { type: 'authenticated'; replyTo: string | null; expiresAt: string }
  | { type: 'resumed'; replyTo: string | null; runId: string; lastSeq: number; finished: boolean };

export type ServerMessage = ControlMessage | RunEvent;

// ignoreBOM keeps a leading U+FEFF in the text, as Buffer#toString does: such a message is not valid JSON.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * A `ws` text message as a string (ws hands over a Buffer, a Buffer[] of fragments, or an ArrayBuffer). Written
 * without Node's Buffer so this module also compiles for the browser.
 */
export function textOf(data: Uint8Array | ArrayBuffer | readonly Uint8Array[]): string {
  if (!isFragments(data)) return utf8.decode(data);
  const whole = new Uint8Array(data.reduce((n, part) => n + part.byteLength, 0));
  let offset = 0;
  for (const part of data) {
    whole.set(part, offset);
    offset += part.byteLength;
  }
  return utf8.decode(whole);
}

function isFragments(data: Uint8Array | ArrayBuffer | readonly Uint8Array[]): data is readonly Uint8Array[] {
  return Array.isArray(data);
}
