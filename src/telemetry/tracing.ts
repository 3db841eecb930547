/**
 * Attribute values of a span. `undefined` values are left out. Never message text, arguments, results, tokens,
 * tickets or query strings: ids, names, codes and counts only.
 */
export type SpanAttributes = Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>;

/** `server` for an HTTP request received, `client` for a call leaving the process (a model API), else `internal`. */
export type SpanKind = 'server' | 'client' | 'internal';

/** One span in progress. Every method is cheap and never throws; calls after `end` are ignored. */
export interface TraceSpan {
  /** The W3C trace id (32 hex digits), or undefined when nothing is recorded (tracing off). */
  readonly traceId: string | undefined;
  set(attributes: SpanAttributes): void;
  /** Marks the span failed: `error.type` is a stable code or class (an error code, a status), never a message. */
  fail(errorType: string): void;
  end(): void;
}

/** The request headers a server span reads its parent from (`traceparent`, `tracestate`). */
export type CarrierHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * Where spans go (OpenTelemetry when OTEL_EXPORTER_OTLP_ENDPOINT is set, else nowhere). Parents are always given
 * explicitly, never taken from an ambient async context: no AsyncLocalStorage runs, so tracing adds no work to
 * promises, and a run never lands under the request that happened to be running when it was queued.
 */
export interface Tracing {
  /** False for `noTracing`: callers may skip building attributes. */
  readonly enabled: boolean;
  /** A span under `parent`, or the first span of a new trace without one. */
  start(name: string, kind: SpanKind, attributes: SpanAttributes, parent?: TraceSpan): TraceSpan;
  /** A `server` span continuing the caller's trace when `headers` carry a valid W3C `traceparent`. */
  startFromHeaders(name: string, headers: CarrierHeaders, attributes: SpanAttributes): TraceSpan;
  /**
   * The span `owner` stands for, as `attach` recorded it (held weakly: it goes with its owner). The run executor
   * attaches a run's span to its frozen RunContext, so the model and tool calls the run makes find their parent.
   */
  spanOf(owner: object): TraceSpan | undefined;
  attach(owner: object, span: TraceSpan): void;
  /** Exports the spans still buffered and stops, in `timeoutMs` at most. */
  shutdown(timeoutMs: number): Promise<void>;
}

const noSpan: TraceSpan = { traceId: undefined, set: () => {}, fail: () => {}, end: () => {} };

/** Tracing off: nothing is recorded, loaded or kept. */
export const noTracing: Tracing = {
  enabled: false,
  start: () => noSpan,
  startFromHeaders: () => noSpan,
  spanOf: () => undefined,
  attach: () => {},
  shutdown: async () => {},
};
