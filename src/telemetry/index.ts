export { noTelemetry } from './telemetry.js';
export type { Telemetry } from './telemetry.js';
