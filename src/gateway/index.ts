export { Gateway } from './gateway.js';
export type { ConnectionLeases, Lease } from './ports.js';
