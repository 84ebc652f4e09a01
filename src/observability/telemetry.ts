// Tracing with OpenTelemetry. @fastify/otel makes a span per request; the
// service adds child spans for the game lookup, the signing and each S3 call.
// The request's context is handed down to them as an argument, not followed
// by a context manager: the one OpenTelemetry registers by default
// (AsyncLocalStorage) hooks every promise and async resource of the process
// on Node 20, and cost a traced redirect more time than its spans did.
// Spans are exported over OTLP/HTTP (protobuf, or JSON with
// OTEL_EXPORTER_OTLP_PROTOCOL=http/json) when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; otherwise no provider is
// registered and every span is a no-op.
import { INVALID_SPAN_CONTEXT, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api'
import type { FastifyRequest } from 'fastify'
import type { TelemetryConfig } from '../config/index.js'

// A proxy: it follows whichever provider is registered, also one registered later.
const tracer = trace.getTracer('replay-gate')

/**
 * The context a span of the service is made in: its request's. Null or
 * undefined where the request is not traced (tracing off, or a route left
 * out of it): no span is made then.
 */
export type TraceParent = Context | null | undefined

/** The request's context, for the spans made on its behalf (see inSpan). */
export function traceParentOf (request: FastifyRequest): TraceParent {
  // The decorator is there only when tracing is on: @fastify/otel registered on the request's app.
  return typeof request.opentelemetry === 'function' ? request.opentelemetry().context : undefined
}

/**
 * Runs `work` in a span, a child of `parent`; an error marks the span and
 * goes on. Without a parent it only runs the work. The span is not made
 * active: work that makes spans of its own is given the parent it needs.
 */
export async function inSpan<T> (parent: TraceParent, name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  if (parent == null) return await work(NO_SPAN)
  const span = tracer.startSpan(name, { attributes }, parent)
  try {
    const result = await work(span)
    span.end()
    return result
  } catch (error) {
    markFailed(span, error as Error)
    span.end()
    throw error
  }
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
  // No context manager: spans get their parent as an argument (see the top of this file).
  // W3C trace context is still read from the requests' traceparent headers.
  provider.register({ contextManager: null })
  return { shutdown: async () => { await provider.shutdown() } }
}
