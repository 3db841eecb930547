export { Gateway } from './gateway.js';
export type { EndStream, StreamSlot } from './stream-sessions.js';
export type { ConnectionLeases, Lease } from './ports.js';
