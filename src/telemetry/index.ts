export { noTelemetry } from './telemetry.js';
export type { AuthEventKind, Telemetry } from './telemetry.js';
