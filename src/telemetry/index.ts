export { noTelemetry } from './telemetry.js';
export type { AuthEventKind, Telemetry } from './telemetry.js';
export { noTracing } from './tracing.js';
export type { CarrierHeaders, SpanAttributes, SpanKind, TraceSpan, Tracing } from './tracing.js';
export { RunOrigins } from './run-origins.js';
export type { RunOrigin } from './run-origins.js';
