import { INVALID_SPAN_CONTEXT, trace, TraceFlags } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import t from 'tap'
import { loggerOptions, traceFields } from '../../src/observability/logging.js'
import { type Tap, buildTestApp, listen, seedReplays, testConfig } from '../helper.js'
import { waitUntil } from '../support/wait.js'

// Registered before the apps are built, as server.ts does with the OTLP exporter.
const exporter = new InMemorySpanExporter()
new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register()

const { db, bucket } = await seedReplays(t, [{ id: '1', game_folder: 'g', replay_file: 'r.rep', body: 'replay bytes' }])

interface LogLine { msg: string, reqId?: string, trace_id?: string, span_id?: string, trace_flags?: string }

/** An app whose log lines are kept, parsed; routes of its own log from inside their handler, one of them left out of tracing. */
async function appLogging (t: Tap, { tracing }: { tracing: boolean }): Promise<{ base: string, lines: LogLine[] }> {
  const lines: LogLine[] = []
  const logger = loggerOptions('info', { write: (line: string) => lines.push(JSON.parse(line) as LogLine) })
  const app = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage(), logger, tracing })
  app.get('/logs-inside', async function logsInside (request) {
    request.log.info('inside the handler')
    return { ok: true }
  })
  app.get('/untraced', { config: { otel: false } }, async function untraced (request) {
    request.log.info('inside the handler')
    return { ok: true }
  })
  return { base: await listen(app), lines }
}

await t.test('tracing off: no trace fields, even in a span and with a provider registered', async (t) => {
  const { base, lines } = await appLogging(t, { tracing: false })
  t.equal((await fetch(`${base}/games/1/replay`, { redirect: 'manual' })).status, 302)
  t.equal((await fetch(`${base}/logs-inside`)).status, 200)
  await trace.getTracer('test').startActiveSpan('outside', async (span) => {
    t.equal((await fetch(`${base}/logs-inside`)).status, 200)
    span.end()
  })
  t.equal(lines.filter((line) => line.msg === 'request').length, 3)
  t.equal(lines.filter((line) => line.msg === 'inside the handler').length, 2)
  for (const line of lines) t.notOk('trace_id' in line || 'span_id' in line || 'trace_flags' in line, `${line.msg}: no trace fields`)
})

t.test('tracing on: the request line and a line from inside a handler carry the ids of the request\'s trace and span', async (t) => {
  const { base, lines } = await appLogging(t, { tracing: true })
  // The redirect is sent from inside its handler's span, the other answer after its handler has returned.
  for (const url of ['/games/1/replay', '/logs-inside']) {
    exporter.reset()
    lines.length = 0
    const res = await fetch(`${base}${url}`, { redirect: 'manual' })
    await res.arrayBuffer()
    const root = await waitUntil(() => exporter.getFinishedSpans().find((span) => span.parentSpanContext === undefined))
    const { traceId, spanId } = root?.spanContext() ?? {}
    const spanIds = new Set(exporter.getFinishedSpans().map((span) => span.spanContext().spanId))
    const request = lines.find((line) => line.msg === 'request')
    t.match(request, { trace_id: traceId, span_id: spanId, trace_flags: '01' }, `${url}: the request line names the request's span`)
    t.match(request?.trace_id, /^[0-9a-f]{32}$/)
    t.match(request?.span_id, /^[0-9a-f]{16}$/)
    if (url === '/logs-inside') {
      const inside = lines.find((line) => line.msg === 'inside the handler')
      t.equal(inside?.trace_id, traceId, 'the handler\'s line is in the request\'s trace')
      t.ok(spanIds.has(inside?.span_id as string), `and names one of its spans (${inside?.span_id})`)
      t.equal(inside?.span_id, spanId, 'the request\'s own')
      t.equal(inside?.trace_flags, '01')
    }
  }
})

t.test('tracing on, a route left out of tracing: no trace fields', async (t) => {
  const { base, lines } = await appLogging(t, { tracing: true })
  t.equal((await fetch(`${base}/untraced`)).status, 200)
  const requestLines = lines.filter((line) => line.reqId !== undefined)
  t.same(requestLines.map((line) => line.msg), ['inside the handler', 'request'])
  for (const line of requestLines) t.notOk('trace_id' in line, `${line.msg}: no trace fields`)
})

t.test('the fields of a span: none for one that is not valid; the flags as two hex digits', async (t) => {
  t.same(traceFields(INVALID_SPAN_CONTEXT), {})
  const ids = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' }
  t.same(traceFields({ ...ids, traceFlags: TraceFlags.SAMPLED }), { trace_id: ids.traceId, span_id: ids.spanId, trace_flags: '01' })
  t.same(traceFields({ ...ids, traceFlags: TraceFlags.NONE }), { trace_id: ids.traceId, span_id: ids.spanId, trace_flags: '00' })
})
