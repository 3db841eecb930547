import type { RunEvent, ServerMessage } from '../protocol/index.js';

/** Run event types (kept beside the schema's by the type checks below: zod stays out of the browser bundle). */
const RUN_EVENT_TYPES = [
  'agent_started',
  'agent_thinking',
  'tool_executing',
  'tool_completed',
  'agent_message_delta',
  'agent_completed',
  'agent_error',
  'run_cancelled',
] as const;
const TERMINAL_TYPES = ['agent_completed', 'agent_error', 'run_cancelled'] as const;
// Compile-time: both lists name exactly the protocol's types.
type Missing<All, Listed> = Exclude<All, Listed> extends never ? true : never;
const _everyEventListed: Missing<RunEvent['type'], (typeof RUN_EVENT_TYPES)[number]> = true;
const _noUnknownEvent: Missing<(typeof RUN_EVENT_TYPES)[number], RunEvent['type']> = true;
void _everyEventListed;
void _noUnknownEvent;

const runEventTypes: ReadonlySet<string> = new Set(RUN_EVENT_TYPES);
const terminalTypes: ReadonlySet<string> = new Set(TERMINAL_TYPES);

export function isTerminal(event: { readonly type: string }): boolean {
  return terminalTypes.has(event.type);
}

export function isRunEvent(message: ServerMessage): message is RunEvent {
  return runEventTypes.has(message.type);
}

type Shape = Readonly<Record<string, 'string' | 'number' | 'boolean' | 'object' | 'array' | 'string?'>>;

/** The fields the SDK reads from each message it handles; anything else (a newer server's type) is ignored. */
const CONTROL_SHAPES: Readonly<Record<string, Shape>> = {
  connection_established: {
    connectionId: 'string',
    userId: 'string',
    serverTime: 'string',
    heartbeatIntervalMs: 'number',
    activeRuns: 'array',
  },
  message_accepted: { replyTo: 'string?', threadId: 'string', runId: 'string' },
  message_added: { threadId: 'string', runId: 'string', message: 'object' },
  error: { code: 'string', message: 'string', replyTo: 'string?' },
  pong: { replyTo: 'string?' },
  token_expiring: { expiresAt: 'string' },
  authenticated: { replyTo: 'string?', expiresAt: 'string' },
  resumed: { replyTo: 'string?', runId: 'string', lastSeq: 'number', finished: 'boolean' },
};
const RUN_EVENT_SHAPE: Shape = { runId: 'string', threadId: 'string', seq: 'number', ts: 'string' };

function fits(value: Record<string, unknown>, shape: Shape): boolean {
  for (const [key, kind] of Object.entries(shape)) {
    const field = value[key];
    const ok =
      kind === 'string?'
        ? field === null || field === undefined || typeof field === 'string'
        : kind === 'array'
          ? Array.isArray(field)
          : kind === 'object'
            ? typeof field === 'object' && field !== null
            : typeof field === kind;
    if (!ok) return false;
  }
  return true;
}

/**
 * A server frame, checked structurally (cheap: no schema library in the browser bundle). Undefined for anything
 * that is not a text frame holding a message of a known type with the fields the SDK reads.
 */
export function parseFrame(data: unknown): ServerMessage | undefined {
  if (typeof data !== 'string') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const type = record.type;
  if (typeof type !== 'string') return undefined;
  if (runEventTypes.has(type)) {
    const seq = record.seq;
    return fits(record, RUN_EVENT_SHAPE) && Number.isInteger(seq) && (seq as number) >= 1
      ? (record as unknown as ServerMessage)
      : undefined;
  }
  const shape = CONTROL_SHAPES[type];
  return shape !== undefined && fits(record, shape) ? (record as unknown as ServerMessage) : undefined;
}
