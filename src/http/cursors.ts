import { z } from 'zod';
import { AppError } from '../errors/index.js';
import type { ThreadCursor } from '../runs/index.js';

/**
 * The `before` cursors of paged lists: opaque to clients (base64url JSON), so the keyset behind them can change
 * without breaking one. A cursor this server did not give is `invalid_request`, never a silent first page.
 */
const ThreadKey = z.tuple([z.string().max(64), z.string().max(128)]);
const MessageKey = z.tuple([z.number().int().min(0)]);

export const threadCursor = {
  encode: (c: ThreadCursor): string => encode([c.updatedAt, c.id]),
  decode: (text: string): ThreadCursor => {
    const [updatedAt, id] = decode(ThreadKey, text);
    return { updatedAt, id };
  },
};

export const messageCursor = {
  encode: (position: number): string => encode([position]),
  decode: (text: string): number => decode(MessageKey, text)[0],
};

function encode(key: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decode<T>(schema: z.ZodType<T>, text: string): T {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(text, 'base64url').toString());
  } catch {
    json = undefined;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new AppError('invalid_request', 'before: not a cursor from a previous page of this list.');
  return parsed.data;
}
