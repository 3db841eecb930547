import type { RunEvent, ServerMessage } from './index.js';

/** The JSON of each run event, made once: the same immutable event is stored and sent to every tab of its user. */
const encodedEvents = new WeakMap<RunEvent, string>();

/** JSON of a run event; computed on first use and remembered for as long as the event object lives. */
export function encodeRunEvent(event: RunEvent): string {
  let json = encodedEvents.get(event);
  if (json === undefined) {
    json = JSON.stringify(event);
    encodedEvents.set(event, json);
  }
  return json;
}

/** JSON of any server message (run events through encodeRunEvent). Messages must not be mutated once encoded. */
export function encodeServerMessage(message: ServerMessage): string {
  return 'seq' in message ? encodeRunEvent(message) : JSON.stringify(message);
}
