// Tracing with OpenTelemetry. @fastify/otel makes a span per request; the
// service adds child spans for the game lookup, the signing and each S3 call.
// Spans are exported over OTLP/HTTP (protobuf, or JSON with
// OTEL_EXPORTER_OTLP_PROTOCOL=http/json) when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; otherwise no provider is
// registered and every span is a no-op.
import { INVALID_SPAN_CONTEXT, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api'
import type { TelemetryConfig } from '../config/index.js'

// A proxy: it follows whichever provider is registered, also one registered later.
const tracer = trace.getTracer('replay-gate')
let spansOn = false

/** From now on inSpan makes spans; until then it only runs the work (tracing not configured). */
export function enableSpans (): void {
  spansOn = true
}

/** Runs `work` in a child span of the current one; an error marks the span and goes on. */
export async function inSpan<T> (name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  if (!spansOn) return await work(NO_SPAN)
  return await tracer.startActiveSpan(name, { attributes }, async (span) => await work(span).then(
    (result) => { span.end(); return result },
    (error: Error) => {
      markFailed(span, error)
      span.end()
      throw error
    }
  ))
}

const NO_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT)

/** Marks a span as failed, with the error as its exception (also for a failure answered as a value). */
export function markFailed (span: Span, error: Error): void {
  span.recordException(error)
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message })
}

export interface Tracing {
  shutdown: () => Promise<void>
}

/** Registers an OTLP exporter when the standard OpenTelemetry variables ask for one. */
export async function startTracing ({ exportTraces, serviceName, protocol }: TelemetryConfig): Promise<Tracing | undefined> {
  if (!exportTraces) return undefined
  // Loaded only when spans are exported: the SDK and the exporter add to every start otherwise.
  const [{ OTLPTraceExporter }, { resourceFromAttributes }, { BatchSpanProcessor, NodeTracerProvider }] = await Promise.all([
    protocol === 'http/json' ? import('@opentelemetry/exporter-trace-otlp-http') : import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@opentelemetry/resources'), import('@opentelemetry/sdk-trace-node')
  ])
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    // The exporter reads the endpoint, headers and timeout from the OTEL_EXPORTER_OTLP_* variables itself.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())]
  })
  provider.register()
  return { shutdown: async () => { await provider.shutdown() } }
}
