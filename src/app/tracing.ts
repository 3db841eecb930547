import type * as Api from '@opentelemetry/api';
import type { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, Sampler, SpanExporter } from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import {
  noTracing,
  type CarrierHeaders,
  type SpanAttributes,
  type SpanKind,
  type TraceSpan,
  type Tracing,
} from '../telemetry/index.js';
import { AGENTGATE_VERSION } from './version.js';

/** Spans waiting for export at most; past it new ones are dropped (a receiver that is down must not grow memory). */
const MAX_QUEUED_SPANS = 4096;
const EXPORT_DELAY_MS = 2000;
const EXPORT_TIMEOUT_MS = 10_000;
/** An export failure is logged at most this often. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

/**
 * OpenTelemetry tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set, else `noTracing`. The SDK is imported here, on
 * demand: a server without the setting never loads it. Everything it needs comes from our config (endpoint, headers,
 * service name, sampler), so no OTEL_* variable the config did not validate changes what it does, and no global
 * (tracer provider, context manager, propagator) is registered: several apps in one process each trace on their own.
 */
export async function openTracing(
  otel: Config['otel'],
  deps: { readonly logger: Logger; readonly instanceId: string },
): Promise<Tracing> {
  if (otel === undefined) return noTracing;
  const [api, core, sdk, resources, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const exporter = new OTLPTraceExporter({
    url: `${otel.endpoint}/v1/traces`,
    headers: { ...otel.headers },
    timeoutMillis: EXPORT_TIMEOUT_MS,
  });
  const ratio = new sdk.TraceIdRatioBasedSampler(otel.samplerRatio);
  const roots: Record<NonNullable<Config['otel']>['sampler'], Sampler> = {
    always_on: new sdk.AlwaysOnSampler(),
    always_off: new sdk.AlwaysOffSampler(),
    traceidratio: ratio,
    parentbased_always_on: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    parentbased_always_off: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() }),
    parentbased_traceidratio: new sdk.ParentBasedSampler({ root: ratio }),
  };
  const provider = new sdk.TracerProvider({
    resource: resources.resourceFromAttributes({
      'service.name': otel.serviceName,
      'service.version': AGENTGATE_VERSION,
      'service.instance.id': deps.instanceId,
    }),
    sampler: roots[otel.sampler],
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter: loggingFailures(exporter, deps.logger, core.ExportResultCode),
        maxQueueSize: MAX_QUEUED_SPANS,
        maxExportBatchSize: 512,
        scheduledDelayMillis: EXPORT_DELAY_MS,
        exportTimeoutMillis: EXPORT_TIMEOUT_MS,
      }),
    ],
  });
  const tracer = provider.getTracer('agentgate', AGENTGATE_VERSION);
  const propagator = new core.W3CTraceContextPropagator();
  const kinds: Record<SpanKind, Api.SpanKind> = {
    server: api.SpanKind.SERVER,
    client: api.SpanKind.CLIENT,
    internal: api.SpanKind.INTERNAL,
  };
  const owners = new WeakMap<object, TraceSpan>();
  /** Our spans wrap the SDK's: the parent's context travels inside, out of reach of the domains. */
  const contexts = new WeakMap<TraceSpan, Api.Context>();

  const open = (name: string, kind: SpanKind, attributes: SpanAttributes, parent: Api.Context): TraceSpan => {
    const span = tracer.startSpan(name, { kind: kinds[kind], attributes: defined(attributes) }, parent);
    const recorded = span.isRecording();
    const wrapped: TraceSpan = {
      traceId: recorded ? span.spanContext().traceId : undefined,
      set: (more) => void span.setAttributes(defined(more)),
      fail: (errorType) => {
        span.setAttribute('error.type', errorType);
        span.setStatus({ code: api.SpanStatusCode.ERROR });
      },
      end: () => span.end(),
    };
    contexts.set(wrapped, api.trace.setSpan(api.ROOT_CONTEXT, span));
    return wrapped;
  };
  deps.logger.info({ endpoint: otel.endpoint, sampler: otel.sampler }, 'OpenTelemetry traces are exported');
  return {
    enabled: true,
    start: (name, kind, attributes, parent) =>
      open(name, kind, attributes, (parent && contexts.get(parent)) ?? api.ROOT_CONTEXT),
    startFromHeaders: (name, headers, attributes) =>
      open(name, 'server', attributes, propagator.extract(api.ROOT_CONTEXT, headers, headerGetter)),
    spanOf: (owner) => owners.get(owner),
    attach: (owner, span) => void owners.set(owner, span),
    shutdown: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([provider.shutdown().catch(() => {}), late]).finally(() => clearTimeout(timer));
    },
  };
}

const headerGetter: Api.TextMapGetter<CarrierHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    return typeof value === 'string' ? value : value?.[0];
  },
};

function defined(attributes: SpanAttributes): Api.Attributes {
  const out: Api.Attributes = {};
  for (const [key, value] of Object.entries(attributes))
    if (value !== undefined) out[key] = typeof value === 'object' ? [...value] : value;
  return out;
}

/** The SDK reports failed exports to a global diagnostic logger that is silent by default: say it in our logs. */
function loggingFailures(exporter: SpanExporter, logger: Logger, codes: typeof ExportResultCode): SpanExporter {
  let lastLogged = -Infinity;
  return {
    export: (spans: ReadableSpan[], done) =>
      exporter.export(spans, (result) => {
        if (result.code !== codes.SUCCESS && Date.now() - lastLogged >= FAILURE_LOG_INTERVAL_MS) {
          lastLogged = Date.now();
          logger.warn(
            { err: result.error, spans: spans.length },
            'traces could not be exported to OTEL_EXPORTER_OTLP_ENDPOINT (logged once a minute at most)',
          );
        }
        done(result);
      }),
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}
