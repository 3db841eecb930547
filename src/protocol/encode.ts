import type { RunEvent, ServerMessage } from './wire/index.js';

/**
 * Where a run event keeps its JSON once made: the same event is stored and then sent to every tab of its user, and
 * encoding it is a large part of its cost. A non-enumerable symbol: JSON, copies and equality checks never see it
 * (a WeakMap did the same at twice the cost).
 */
const ENCODED = Symbol('agentgate.encoded');

type Encodable = RunEvent & { [ENCODED]?: string };

/** JSON of a run event; made on first use and kept on the event. Run events must not change once encoded. */
export function encodeRunEvent(event: RunEvent): string {
  const encodable = event as Encodable;
  let json = encodable[ENCODED];
  if (json === undefined) {
    json = JSON.stringify(event);
    Object.defineProperty(event, ENCODED, { value: json });
  }
  return json;
}

/** JSON of any server message (run events through encodeRunEvent). */
export function encodeServerMessage(message: ServerMessage): string {
  return 'seq' in message ? encodeRunEvent(message) : JSON.stringify(message);
}
