import {
  CONTROL_MESSAGE_FIELDS,
  hasFields,
  isRunEventType,
  RUN_EVENT_FIELDS,
  type ControlMessageType,
  type RunEvent,
  type ServerMessage,
} from '../protocol/wire/index.js';

export function isRunEvent(message: ServerMessage): message is RunEvent {
  return isRunEventType(message.type);
}

function isControlType(type: string): type is ControlMessageType {
  return Object.hasOwn(CONTROL_MESSAGE_FIELDS, type);
}

/**
 * A server frame, checked structurally against the wire vocabulary's field tables (cheap: no schema library in the
 * browser bundle). Undefined for anything that is not a text frame holding a message of a known type with the
 * fields the SDK reads; a newer server's message types are ignored.
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
  if (isRunEventType(type)) {
    const seq = record.seq;
    return hasFields(record, RUN_EVENT_FIELDS) && Number.isInteger(seq) && (seq as number) >= 1
      ? (record as unknown as ServerMessage)
      : undefined;
  }
  if (!isControlType(type)) return undefined;
  return hasFields(record, CONTROL_MESSAGE_FIELDS[type]) ? (record as unknown as ServerMessage) : undefined;
}
