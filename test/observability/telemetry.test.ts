import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import t, { type Test } from 'tap'
import { startTracing } from '../../src/observability/telemetry.js'
import { parseConfig } from '../../src/config/index.js'
import { buildTestApp, listen, seedReplays, testConfig } from '../helper.js'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { localDataDir, spawnEntry } from '../support/spawn-service.js'
import { waitUntil } from '../support/wait.js'
import { connectPostgres } from '../../src/db/database.js'
import { closedPort } from '../support/silent-server.js'

// Registered before the app is built, as server.ts does with the OTLP exporter: without a
// context manager, so that the spans below are parented by what the service hands down alone.
const exporter = new InMemorySpanExporter()
new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register({ contextManager: null })

const { db, bucket } = await seedReplays(t, [
  { id: '1', game_folder: 'g', replay_file: 'r.rep', body: 'replay bytes' },
  { id: '2', game_folder: 'g', replay_file: 'gone.rep' },
  { id: '3', game_folder: 'g', replay_file: 'third.rep' }
])

await t.test('tracing not configured: no span at all, not even with a provider registered', async (t) => {
  const untraced = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage() })
  exporter.reset()
  const res = await untraced.inject({ url: '/games/1/replay' })
  t.equal(res.statusCode, 302)
  const stream = await untraced.inject({ url: '/games/1/replay/stream' })
  t.equal(stream.body, 'replay bytes')
  t.same(exporter.getFinishedSpans().map((span) => span.name), [], 'no request span, no lookup, signing or S3 span')
})

// URLs reused within a window, as the service's default settings have it; a window of days, so that none ends during the test.
// Awaited inside each test: the tests are declared at once, so that the run does not end while
// the app loads @fastify/otel.
const served = buildTestApp(t, { config: testConfig(), db, storage: bucket.storage({ presignTtlSeconds: 604_800, presignReuseSeconds: 600_000 }), tracing: true }).then(listen)

/** The spans of one request, each with the names of its ancestors, root first. */
async function traceOf (t: Test, url: string, init?: RequestInit): Promise<{ status: number, root: ReadableSpan, paths: string[] }> {
  const base = await served
  exporter.reset()
  const res = await fetch(`${base}${url}`, { redirect: 'manual', ...init })
  await res.arrayBuffer()
  // The request's span ends once the answer is sent, which may be after the client has read it.
  await waitUntil(() => exporter.getFinishedSpans().some((span) => span.parentSpanContext === undefined) ? true : undefined)
  const spans = exporter.getFinishedSpans()
  const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]))
  const roots = spans.filter((span) => span.parentSpanContext === undefined)
  const path = (span: ReadableSpan): string => {
    const parent = span.parentSpanContext === undefined ? undefined : byId.get(span.parentSpanContext.spanId)
    return parent === undefined ? span.name : `${path(parent)} > ${span.name}`
  }
  t.equal(roots.length, 1, `${url}: one trace, one root`)
  t.ok(spans.every((span) => span.spanContext().traceId === roots[0]?.spanContext().traceId), 'every span in the same trace')
  return { status: res.status, root: roots[0] as ReadableSpan, paths: spans.map(path) }
}

t.test('a redirect: the request span, with the lookup and the signing under it', async (t) => {
  const { status, root, paths } = await traceOf(t, '/games/1/replay')
  t.equal(status, 302)
  t.same(paths.filter((p) => !/replay\.(lookup|sign)$/.test(p)), ['request'], `no span for the handler, which would repeat the request's: ${paths.join(' | ')}`)
  t.match(root.attributes, { 'http.request.method': 'GET', 'http.route': '/games/:gameId/replay', 'http.response.status_code': 302 })
  t.ok(paths.some((p) => /^request > replay\.lookup$/.test(p)), `a lookup span under the request: ${paths.join(' | ')}`)
  t.ok(paths.some((p) => /^request > replay\.sign$/.test(p)), 'a signing span under the request')
})

t.test('a token in the query string is scrubbed from the span, which keeps the path apart', async (t) => {
  const { root } = await traceOf(t, '/games/1/replay?access_token=eyJhbGciOiJIUzI1NiJ9.e30.SECRETPART&lang=en')
  t.equal(root.attributes['url.path'], '/games/1/replay')
  t.equal(root.attributes['url.query'], 'access_token=[REDACTED]&lang=en')
  t.notMatch(JSON.stringify(root.attributes), /SECRETPART/)
})

t.test('a lookup that fails is a span with an error status', async (t) => {
  const dead = connectPostgres({ url: `postgres://127.0.0.1:${await closedPort()}/x`, timeoutMs: 500 })
  t.teardown(() => dead.destroy())
  const failing = await buildTestApp(t, { config: testConfig(), db: dead, storage: bucket.storage(), tracing: true })
  exporter.reset()
  t.equal((await failing.inject({ url: '/games/1/replay' })).statusCode, 503)
  const lookup = await waitUntil(() => exporter.getFinishedSpans().find((span) => span.name === 'replay.lookup'))
  t.equal(lookup?.status.code, 2, 'SpanStatusCode.ERROR')
  t.match(lookup?.status.message, /could not be reached/)
})

t.test('the same game again: answered from memory, with no span for the cached lookup or the reused URL', async (t) => {
  const { status, paths } = await traceOf(t, '/games/1/replay')
  t.equal(status, 302)
  t.same(paths, ['request'], 'the request span alone')
})

t.test('a stream: a span for the S3 call, with its bucket and key', async (t) => {
  const { status, paths } = await traceOf(t, '/games/1/replay/stream')
  t.equal(status, 200)
  t.ok(paths.some((p) => /^request > s3\.GetObject$/.test(p)), `an S3 span under the request: ${paths.join(' | ')}`)
  const s3Span = exporter.getFinishedSpans().find((span) => span.name === 's3.GetObject')
  t.match(s3Span?.attributes, { 'rpc.method': 'GetObject', 'aws.s3.bucket': bucket.s3.bucket, 'aws.s3.key': 'g/r.rep' })
})

t.test('a failed S3 call is a span with an error status; HEAD has its own S3 span', async (t) => {
  const missing = await traceOf(t, '/games/2/replay/stream')
  t.equal(missing.status, 404)
  const s3Span = exporter.getFinishedSpans().find((span) => span.name === 's3.GetObject')
  t.equal(s3Span?.status.code, 2, 'SpanStatusCode.ERROR')
  t.ok(s3Span?.events.some((event) => event.name === 'exception'), 'the exception is recorded')
  const head = await traceOf(t, '/games/1/replay/stream', { method: 'HEAD' })
  t.equal(head.status, 200)
  t.ok(head.paths.some((p) => /^request > s3\.HeadObject$/.test(p)), `an S3 span under the request: ${head.paths.join(' | ')}`)
  const described = await traceOf(t, '/games/1/replay', { method: 'HEAD' })
  t.equal(described.status, 200)
  t.ok(described.paths.some((p) => /^request > s3\.HeadObject$/.test(p)), `HEAD of the redirect: ${described.paths.join(' | ')}`)
})

t.test('a caller\'s traceparent: the request continues its trace, and the service\'s spans with it', async (t) => {
  const base = await served
  const caller = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' }
  exporter.reset()
  // A game asked for nowhere else: its lookup and its signing make spans of their own.
  const res = await fetch(`${base}/games/3/replay/url`, { headers: { traceparent: `00-${caller.traceId}-${caller.spanId}-01` } })
  t.equal(res.status, 200)
  const request = await waitUntil(() => exporter.getFinishedSpans().find((span) => span.name === 'request'))
  t.ok(request, 'the request span')
  t.equal(request?.spanContext().traceId, caller.traceId, 'the caller\'s trace')
  t.equal(request?.parentSpanContext?.spanId, caller.spanId, 'under the caller\'s span')
  const children = exporter.getFinishedSpans().filter((span) => span.name !== 'request')
  t.same(children.map((span) => span.name).sort(), ['replay.lookup', 'replay.sign'])
  for (const span of children) {
    t.equal(span.spanContext().traceId, caller.traceId, `${span.name}: in the caller's trace`)
    t.equal(span.parentSpanContext?.spanId, request?.spanContext().spanId, `${span.name}: under the request`)
  }
})

t.test('without an OTLP endpoint nothing is set up; a traces-only endpoint is enough', async (t) => {
  t.equal(parseConfig({}).telemetry.exportTraces, false)
  t.equal(await startTracing(parseConfig({}).telemetry), undefined, 'no provider, no exporter')
  t.same(parseConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9/v1/traces', OTEL_SERVICE_NAME: 'replays-eu' }).telemetry,
    { exportTraces: true, serviceName: 'replays-eu', protocol: 'http/protobuf' })
})

t.test('the OTLP protocol: protobuf unless set; the traces\' own variable wins', async (t) => {
  const protocol = (env: Record<string, string>): string => parseConfig(env).telemetry.protocol
  t.equal(protocol({}), 'http/protobuf', 'OpenTelemetry\'s default')
  t.equal(protocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }), 'http/json')
  t.equal(protocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }), 'http/protobuf')
})

/** The service as a process, exporting to a collector of the test's own; what the collector received, and the request's log line. */
async function exportedBy (t: Test, env: Record<string, string>): Promise<{ traces: Buffer, contentType: string | undefined, requestLine: string }> {
  const received: Array<{ path: string, body: Buffer, contentType: string | undefined }> = []
  const collector = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => {
      received.push({ path: String(request.url), body: Buffer.concat(chunks), contentType: request.headers['content-type'] })
      response.writeHead(200, { 'content-type': String(request.headers['content-type']) }).end(request.headers['content-type'] === 'application/json' ? '{}' : '')
    })
  })
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { collector.close() })
  const dataDir = await localDataDir(t)
  const service = spawnEntry('server.ts', {
    PORT: '0',
    LOCAL_DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
    OTEL_SERVICE_NAME: 'replay-gate-under-test',
    // Started on a busy machine, its first request must not be shed: what is checked is what it exports.
    PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env
  })
  const [, url] = await service.waitFor(/curl -sL (http:\/\/127\.0\.0\.1:\d+\/games\/1\/replay) /)
  t.equal((await fetch(url as string, { redirect: 'manual' })).status, 302)
  service.child.kill('SIGTERM')
  t.same(await service.exited, { code: 0, signal: null })
  const traces = received.filter((r) => r.path === '/v1/traces')
  return {
    traces: Buffer.concat(traces.flatMap((r) => [r.body, Buffer.from('\n')])),
    contentType: traces[0]?.contentType,
    requestLine: String(service.stdout().split('\n').find((line) => line.includes('"msg":"request"')))
  }
}

/** The trace id in a request's log line. */
function loggedTraceId (t: Test, requestLine: string): string {
  const traceId = /"trace_id":"([0-9a-f]{32})","span_id":"[0-9a-f]{16}","trace_flags":"01"/.exec(requestLine)?.[1]
  t.ok(traceId, `the request's log line names its trace: ${requestLine}`)
  return String(traceId)
}

t.test('with OTEL_EXPORTER_OTLP_ENDPOINT, the running service sends its spans there over OTLP/HTTP, in protobuf', async (t) => {
  const { traces, contentType, requestLine } = await exportedBy(t, {})
  t.equal(contentType, 'application/x-protobuf')
  // A protobuf message holds its strings as they are, and ids as their bytes.
  const text = traces.toString('latin1')
  t.match(text, /replay-gate-under-test/, 'the service name')
  t.match(text, /replay\.lookup/)
  t.match(text, /replay\.sign/)
  t.ok(traces.toString('hex').includes(loggedTraceId(t, requestLine)), 'the logged trace is the one exported')
})

t.test('with OTEL_EXPORTER_OTLP_PROTOCOL=http/json, the same spans as JSON', async (t) => {
  const { traces, contentType, requestLine } = await exportedBy(t, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })
  t.equal(contentType, 'application/json')
  const text = traces.toString('utf8')
  t.match(text, /replay-gate-under-test/, 'the service name')
  t.match(text, /"replay\.lookup"/)
  t.match(text, /"replay\.sign"/)
  const traceId = loggedTraceId(t, requestLine)
  t.ok(text.includes(traceId), 'the logged trace is the one exported')
  // As the service runs, with no context manager: the lookup and the signing are the request's children.
  interface JsonSpan { name: string, traceId: string, spanId: string, parentSpanId?: string }
  const spans = text.split('\n').filter((line) => line !== '').flatMap((line) => (JSON.parse(line) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: JsonSpan[] }> }> })
    .resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))).filter((span) => span.traceId === traceId)
  const request = spans.find((span) => span.name === 'request')
  t.ok(request, 'the request span, in the logged trace')
  t.notOk(request?.parentSpanId, 'the request span is the root')
  for (const name of ['replay.lookup', 'replay.sign']) {
    t.equal(spans.find((span) => span.name === name)?.parentSpanId, request?.spanId, `${name}: the request's child`)
  }
})
