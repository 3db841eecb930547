import type { AuthService } from '../auth/index.js';
import { isAppError, type ErrorCode } from '../errors/index.js';
import { ClientMessageSchema, type ClientMessage } from '../protocol/index.js';
import type { RunHistory, RunManager } from '../runs/index.js';
import type { Connection } from './connection.js';

export interface MessageDeps {
  readonly runs: RunManager;
  readonly history: RunHistory;
  readonly auth: AuthService;
  readonly now: () => number;
  readonly tokenWarnAheadMs: number;
}

/** Parses one text frame; malformed input gets `invalid_message` and the connection stays open. */
export function parseClientMessage(conn: Connection, text: string): ClientMessage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    sendError(conn, 'invalid_message', 'The message is not valid JSON.', null);
    return undefined;
  }
  const parsed = ClientMessageSchema.safeParse(json);
  if (!parsed.success) {
    const replyTo =
      typeof json === 'object' && json !== null && 'id' in json && typeof json.id === 'string' ? json.id : null;
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ');
    sendError(conn, 'invalid_message', `Invalid message: ${issues}.`, replyTo);
    return undefined;
  }
  return parsed.data;
}

export async function handleClientMessage(conn: Connection, msg: ClientMessage, deps: MessageDeps): Promise<void> {
  const replyTo = msg.id ?? null;
  try {
    switch (msg.type) {
      case 'ping':
        conn.send({ type: 'pong', replyTo });
        return;
      case 'user_message':
        await deps.runs.submit(
          conn.userId,
          { text: msg.text, threadId: msg.threadId, onBusy: msg.onBusy, clientId: msg.id, connectionId: conn.id },
          (ack) => conn.send({ type: 'message_accepted', replyTo, ...ack }),
        );
        return;
      case 'cancel_run':
        await deps.runs.cancel(conn.userId, msg.runId);
        return;
      case 'approve_tool':
        await deps.runs.decideApproval(conn.userId, msg.runId, msg.toolCallId, msg.approved);
        return;
      case 'resume':
        await resume(conn, msg.runId, msg.afterSeq, replyTo, deps);
        return;
      case 'authenticate':
        await reauthenticate(conn, msg.token, replyTo, deps);
        return;
    }
  } catch (err) {
    if (!isAppError(err)) throw err;
    sendError(conn, err.code, err.message, replyTo, err.retryAfterSeconds);
  }
}

async function resume(
  conn: Connection,
  runId: string,
  afterSeq: number,
  replyTo: string | null,
  deps: MessageDeps,
): Promise<void> {
  // Hold live events first, then read the log: an event is either in the log read or arrives held, never neither.
  conn.delivery.beginReplay(runId, afterSeq);
  let stored;
  try {
    stored = await deps.history.eventsAfter(conn.userId, runId, afterSeq);
  } catch (err) {
    conn.delivery.abortReplay(runId);
    throw err;
  }
  const lastSeq = conn.delivery.finishReplay(runId, stored.events);
  conn.send({ type: 'resumed', replyTo, runId, lastSeq, finished: stored.run.status !== 'running' });
}

async function reauthenticate(
  conn: Connection,
  token: string,
  replyTo: string | null,
  deps: MessageDeps,
): Promise<void> {
  let principal;
  try {
    principal = await deps.auth.authenticate(token);
  } catch (err) {
    // A bad token changes nothing; an auth store that cannot answer ends the socket (1011) so the client retries.
    if (!isAppError(err) || err.code !== 'service_unavailable') throw err;
    sendError(conn, err.code, err.message, replyTo);
    conn.close('internalError');
    return;
  }
  if (principal.userId !== conn.userId) {
    sendError(conn, 'invalid_token', 'This token belongs to another user.', replyTo);
    conn.close('tokenUserMismatch');
    return;
  }
  conn.principal = principal;
  conn.bindExpiry(deps.now(), deps.tokenWarnAheadMs);
  conn.send({ type: 'authenticated', replyTo, expiresAt: new Date(principal.expiresAt * 1000).toISOString() });
}

function sendError(
  conn: Connection,
  code: ErrorCode,
  message: string,
  replyTo: string | null,
  retryAfterSeconds?: number,
): void {
  conn.send({
    type: 'error',
    code,
    message,
    replyTo,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  });
}
