// The redirect's cost, side by side in one run: signing with getSignedUrl and
// with the service's signer; what each layer of the service costs on the
// redirect; the service with its default settings against a bare node:http
// server and a Fastify route that answer the same 302 as constants; latency at
// a fixed rate; tracing that exports every request; and the uncached lookup on
// 1,000 and 1,000,000 games. Exits 1 when a target is missed.
//   BENCH_ROUNDS (5), BENCH_SECONDS (3)
import { GetObjectCommand } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import autocannon from 'autocannon'
import { SignJWT } from 'jose'
import { once, type EventEmitter } from 'node:events'
import { openSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { sql } from 'kysely'
import { openDatabase } from '../src/db/database.js'
import { DEFAULT_GAMES_TABLE } from '../src/db/games-table.js'
import { attachment } from '../src/replay/download-name.js'
import { openStorage } from '../src/storage/open-storage.js'
import { S3UrlSigner } from '../src/storage/s3-url-signer.js'
import { machine, median, onCleanup, pairedRatio, roundRatios, openBenchDatabase, openBenchS3, printTargets, runBench, serviceSettings, startService, target, type BenchS3, type Service } from './support.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const DURATION = Number(process.env.BENCH_SECONDS ?? 3)
const CONNECTIONS = 50
/** Every request comes from a page on one of the allowed origins, so CORS does its whole work. */
const ORIGIN = 'https://replays.example.org'
const CORS_ORIGINS = `https://www.example.org,${ORIGIN},https://beta.example.org`
const JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123'

interface Load { rps: number, p99: number, errors: number, answered: number }
/** A load's medians over the rounds, with each round's own figures. */
interface Measured extends Load { runs: Load[] }

interface LoadOptions {
  paths?: () => string
  /** Requests per second over all connections (default: as fast as the server answers). */
  rate?: number
  headers?: Record<string, string>
}

/** autocannon against one server; p99 from every response's own time, in ms (autocannon's histogram counts whole ms). */
async function load (url: string, { paths, rate, headers = {} }: LoadOptions = {}): Promise<Load> {
  const times: number[] = []
  // Without a callback autocannon gives a promise that is also its event emitter (its types leave the second out).
  const instance = autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION,
    headers: { origin: ORIGIN, ...headers },
    ...(rate !== undefined && { overallRate: rate }),
    ...(paths !== undefined && { requests: [{ setupRequest: (request) => ({ ...request, path: paths() }) }] })
  }) as Promise<autocannon.Result> & EventEmitter
  instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => { times.push(ms) })
  const result = await instance
  const answered = result['3xx']
  const errors = result.errors + result.timeouts + result['1xx'] + result['2xx'] + result['4xx'] + result['5xx']
  times.sort((a, b) => a - b)
  const p99 = times[Math.min(times.length - 1, Math.floor(times.length * 0.99))] ?? NaN
  return { rps: answered / result.duration, p99, errors, answered }
}

function summary (runs: Load[]): Measured {
  return { rps: median(runs.map((r) => r.rps)), p99: median(runs.map((r) => r.p99)), errors: runs.reduce((n, r) => n + r.errors, 0), answered: runs.reduce((n, r) => n + r.answered, 0), runs }
}

/** Runs each named load once per round, in turn (the order reversed every other round); the median of each. */
async function interleaved (loads: Array<[string, () => Promise<Load>]>, rounds = ROUNDS): Promise<Map<string, Measured>> {
  const runs = new Map<string, Load[]>(loads.map(([name]) => [name, []]))
  for (const [, run] of loads) await run() // warm-up: JIT, pools, caches
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of round % 2 === 0 ? loads : [...loads].reverse()) runs.get(name)?.push(await run())
  }
  return new Map([...runs].map(([name, list]) => [name, summary(list)]))
}

/** a ÷ b, paired by round (see pairedRatio), of the figure `of` picks; NaN when either was not measured. */
function compare (a: Measured | undefined, b: Measured | undefined, of: (load: Load) => number = (load) => load.rps): number {
  return a === undefined || b === undefined ? NaN : pairedRatio(a.runs.map(of), b.runs.map(of))
}

/** Each round's ratio, for the reader to see how far the rounds agree. */
function perRound (a: Measured | undefined, b: Measured | undefined, of: (load: Load) => number = (load) => load.rps): string {
  return a === undefined || b === undefined ? '' : roundRatios(a.runs.map(of), b.runs.map(of)).map((ratio) => ratio.toFixed(2)).join(' ')
}

const row = (name: string, l: Measured, yardstick?: Measured): string =>
  `  ${name.padEnd(66)} ${l.rps.toFixed(0).padStart(7)}  ${l.p99.toFixed(2).padStart(6)}  ${String(l.errors).padStart(5)}${yardstick === undefined ? '' : `   ${compare(l, yardstick).toFixed(2)}`}`

/** Microseconds per URL: getSignedUrl against the project's signer, interleaved. */
async function presignCost (s3: BenchS3): Promise<{ sdk: number, ours: number, reused: number }> {
  const storage = openStorage({
    s3: { bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, publicEndpoint: s3.endpoint, forcePathStyle: true, keyPrefix: '', connectTimeoutMs: 1000, firstByteTimeoutMs: 1000 },
    presignTtlSeconds: 300,
    presignReuseSeconds: 60,
    credentials: s3.credentials
  })
  const { client } = s3
  const signer = new S3UrlSigner(client, s3.bucket)
  const contentDisposition = attachment('game-42.replay.fafreplay', 'game-42.replay.fafreplay')
  const object = { key: 'season-1/game-42/replay.fafreplay', contentDisposition, contentType: 'application/octet-stream' }
  const perUrl = async (count: number, one: (i: number) => Promise<unknown>): Promise<number> => {
    const started = performance.now()
    for (let i = 0; i < count; i++) await one(i)
    return (performance.now() - started) * 1000 / count
  }
  const date = (i: number): Date => new Date(1_780_000_000_000 + i * 1000)
  const sdk = async (i: number): Promise<string> => await getSignedUrl(client, new GetObjectCommand({
    Bucket: s3.bucket, Key: object.key, ResponseContentDisposition: contentDisposition, ResponseContentType: object.contentType
  }), { signingDate: date(i), expiresIn: 360 })
  const ours = async (i: number): Promise<string> => await signer.sign({ ...object, signingDate: date(i), expiresInSeconds: 360 })
  const reused = async (): Promise<unknown> => await storage.urls.presign(object)
  await perUrl(2000, sdk); await perUrl(20_000, ours); await perUrl(20_000, reused) // warm-up
  const runs = { sdk: [] as number[], ours: [] as number[], reused: [] as number[] }
  for (let round = 0; round < 5; round++) {
    runs.sdk.push(await perUrl(2000, sdk))
    runs.ours.push(await perUrl(20_000, ours))
    runs.reused.push(await perUrl(20_000, reused))
  }
  storage.close()
  return { sdk: median(runs.sdk), ours: median(runs.ours), reused: median(runs.reused) }
}

async function fillGames (url: string, count: number): Promise<void> {
  const database = await openDatabase({ postgres: { url, timeoutMs: 600_000 } })
  await database.games.insertSeries(count, {
    folder: (id) => sql`'season-' || (${id} % 97) || '/game-' || ${id}`,
    file: (id) => sql`'replay-' || ${id} || '.fafreplay'`
  })
  await database.close()
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query(`ANALYZE ${DEFAULT_GAMES_TABLE.table}`)
  // The question is how lookups scale with the table, not how fast a disk is: load it into shared buffers.
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_prewarm')
    await client.query(`SELECT pg_prewarm('${DEFAULT_GAMES_TABLE.table}'), pg_prewarm('${DEFAULT_GAMES_TABLE.table}_pkey')`)
  } catch (error) {
    console.log(`(pg_prewarm unavailable, the table is read cold: ${(error as Error).message})`)
  }
  await client.end()
}

/**
 * A cursor over a protobuf message, enough to walk an OTLP export without
 * decoding its spans: `next(end)` reads the field that starts at `at` and
 * returns its number; a length-delimited value then lies from `from` to `to`
 * (`to` is -1 for any other, whose value is skipped), and `at` is past it.
 * To read inside a value, set `at` to `from` and read up to `to`. Nothing is
 * allocated per field: the sink shares the machine with the service and the
 * load generator, and its time would be blamed on the service.
 */
class ProtobufCursor {
  at = 0
  from = 0
  to = -1
  constructor (readonly bytes: Buffer) {}

  private varint (end: number): number {
    let value = 0
    for (let shift = 0; ; shift += 7) {
      if (this.at >= end) throw new Error('OTLP sink: a message cut short')
      const byte = this.bytes[this.at++] as number
      value += (byte & 0x7f) * 2 ** shift
      if (byte < 0x80) return value
    }
  }

  next (end: number): number {
    const tag = this.varint(end)
    const wire = tag & 7
    this.to = -1
    if (wire === 0) this.varint(end)
    else if (wire === 1) this.at += 8
    else if (wire === 5) this.at += 4
    else if (wire === 2) {
      const length = this.varint(end)
      this.from = this.at
      this.to = this.at += length
    } else throw new Error(`OTLP sink: wire type ${wire} at ${this.at}`)
    if (this.at > end) throw new Error('OTLP sink: a message cut short')
    return tag >>> 3
  }

  /** The text of a length-delimited value just read. */
  text (): string {
    return this.bytes.toString('utf8', this.from, this.to)
  }
}

/** Resource.attributes (1) → KeyValue: key (1), value (2) → AnyValue.string_value (1); the cursor on a Resource's fields. */
function serviceName (c: ProtobufCursor, end: number): string {
  let service = ''
  while (c.at < end) {
    if (c.next(end) !== 1 || c.to < 0) continue
    const pairEnd = c.to
    c.at = c.from
    let key = ''
    let value = ''
    while (c.at < pairEnd) {
      const field = c.next(pairEnd)
      if (c.to < 0) continue
      if (field === 1) key = c.text()
      if (field !== 2) continue
      const anyEnd = c.to
      c.at = c.from
      while (c.at < anyEnd) if (c.next(anyEnd) === 1 && c.to >= 0) value = c.text()
    }
    if (key === 'service.name') service = value
  }
  return service
}

/**
 * A sink for OTLP/HTTP protobuf (the service's default) that counts, by
 * service.name, the spans it is sent and the requests' own (root) spans. It
 * walks the message's framing and reads no more of a span than whether it has
 * a parent.
 */
async function startSpanSink (): Promise<{ url: string, spans: (service: string) => number, roots: (service: string) => number }> {
  const spans = new Map<string, number>()
  const roots = new Map<string, number>()
  const count = (body: Buffer): void => {
    // ExportTraceServiceRequest.resource_spans (1) → ResourceSpans: resource (1), scope_spans (2) → ScopeSpans.spans (2) → Span.parent_span_id (4).
    const c = new ProtobufCursor(body)
    while (c.at < body.length) {
      if (c.next(body.length) !== 1 || c.to < 0) continue
      const resourceSpansEnd = c.to
      c.at = c.from
      let service = ''
      let all = 0
      let parented = 0
      while (c.at < resourceSpansEnd) {
        const part = c.next(resourceSpansEnd)
        const partEnd = c.to
        if (partEnd < 0 || (part !== 1 && part !== 2)) continue
        c.at = c.from
        if (part === 1) {
          service = serviceName(c, partEnd)
          continue
        }
        while (c.at < partEnd) {
          if (c.next(partEnd) !== 2 || c.to < 0) continue
          all++
          const spanEnd = c.to
          c.at = c.from
          while (c.at < spanEnd) if (c.next(spanEnd) === 4 && c.to > c.from) parented++
        }
      }
      spans.set(service, (spans.get(service) ?? 0) + all)
      roots.set(service, (roots.get(service) ?? 0) + all - parented)
    }
  }
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      count(Buffer.concat(chunks))
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onCleanup(async () => { server.closeAllConnections(); server.close() })
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, spans: (service) => spans.get(service) ?? 0, roots: (service) => roots.get(service) ?? 0 }
}

/** The headers of the service's 302, to be answered as constants by the yardsticks. */
async function redirectHeaders (service: Service): Promise<Record<string, string>> {
  const res = await fetch(`${service.url}/games/42/replay`, { redirect: 'manual', headers: { origin: ORIGIN } })
  if (res.status !== 302) throw new Error(`the service answered ${res.status}, not 302`)
  const headers: Record<string, string> = {}
  for (const [name, value] of res.headers) {
    if (!['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'].includes(name)) headers[name] = value
  }
  return headers
}

async function main (): Promise<void> {
  const s3 = await openBenchS3()
  const scratch = await mkdtemp(join(tmpdir(), 'replay-gate-bench-'))
  onCleanup(async () => { await rm(scratch, { recursive: true, force: true }) })
  const small = await openBenchDatabase([])
  await fillGames(small.url, 1000)
  const large = await openBenchDatabase([])
  await fillGames(large.url, 1_000_000)
  console.log(`redirect benchmark: ${s3.description}; ${small.description.replace(/ \(.*/, '')}; ${machine()}; autocannon ${CONNECTIONS} connections, ${DURATION} s runs, median of ${ROUNDS} interleaved rounds (a ratio: the median of each round's own); every request from a page on an allowed origin`)

  const backends = (databaseUrl: string): Record<string, string> => serviceSettings(s3, databaseUrl)
  /** Every setting that can be turned off, off. */
  const bare = { LOG_LEVEL: 'silent', PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0' }
  /** What an operator runs: the defaults, with a list of origins, the log at info in a file. */
  const defaults = { LOG_LEVEL: 'info', CORS_ORIGINS }
  let logs = 0
  const logFile = async (): Promise<number> => openSync(join(scratch, `service-${logs++}.log`), 'a')
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setExpirationTime('1h').sign(new TextEncoder().encode(JWT_SECRET))
  const auth = { authorization: `Bearer ${token}` }

  const cost = await presignCost(s3)
  console.log('\npresign, µs per URL (median of 5 interleaved rounds)')
  console.log(`  getSignedUrl (@aws-sdk/s3-request-presigner)          ${cost.sdk.toFixed(1).padStart(7)}`)
  console.log(`  UrlSigner (SigV4 query signature, computed directly)   ${cost.ours.toFixed(1).padStart(7)}`)
  console.log(`  ReplayStorage.presign, URL reused within its window   ${cost.reused.toFixed(2).padStart(7)}`)
  target('presign: getSignedUrl ÷ UrlSigner (times cheaper)', cost.sdk / cost.ours, 'min', 10)

  const layered = async (env: Record<string, string>, layers: string[] = []): Promise<Service> =>
    await startService({ ...backends(small.url), ...bare, ...env, BENCH_LAYERS: layers.join(',') }, { entry: new URL('layered-service.mjs', import.meta.url).pathname })
  const service = await startService({ ...backends(small.url), ...defaults }, { stdout: await logFile() })
  const headers = await redirectHeaders(service)
  const yardstick = async (kind: 'node' | 'fastify'): Promise<Service> =>
    await startService({ YARDSTICK: kind, YARDSTICK_HEADERS: JSON.stringify(headers) }, { entry: new URL('yardstick.mjs', import.meta.url).pathname })
  const nodeServer = await yardstick('node')
  const fastifyServer = await yardstick('fastify')

  // What each layer costs: the service with everything off that can be, then with one layer on.
  const sink = await startSpanSink()
  const tracingEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: 'always_on' }
  const layers: Array<[string, Service, Record<string, string>?]> = [
    ['bare node:http, constant 302 with the same headers', nodeServer],
    ['Fastify route, constant 302 with the same headers', fastifyServer],
    ['service, everything off that can be', await layered({})],
    ['  + tracing registered, no exporter', await layered({}, ['tracing'])],
    ['  + tracing exporting every request over OTLP/HTTP', await layered(tracingEnv, ['tracing'])],
    ['  + request metrics', await layered({}, ['metrics'])],
    ['  + security headers', await layered({}, ['security-headers'])],
    ['  + CORS, a list of 3 origins', await layered({ CORS_ORIGINS })],
    ['  + load shedding (default thresholds)', await layered({ PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '1000' })],
    ['  + auth, a valid bearer token (HS256)', await layered({ AUTH_JWT_SECRET: JWT_SECRET }), auth],
    ['  + request log at info, to a file', await startService({ ...backends(small.url), ...bare, LOG_LEVEL: 'info', BENCH_LAYERS: '' }, { entry: new URL('layered-service.mjs', import.meta.url).pathname, stdout: await logFile() })],
    ['service, default settings (dist/server.js)', service]
  ]
  const layerTable = await interleaved(layers.map(([name, server, extra]) => [name, async () => await load(`${server.url}/games/42/replay`, { headers: { ...auth, ...extra } })]))
  const bareLoad = layerTable.get(layers[0]?.[0] as string) as Measured
  console.log('\nwhat each layer costs: GET /games/42/replay, lookup cached          req/s  p99 ms  non-302   ÷ bare')
  for (const [name, result] of layerTable) console.log(row(name, result, bareLoad))
  for (const [, server] of layers.slice(2, -1)) await server.stop()

  // The targets, at the default settings: one game, and 1,000 games in turn.
  let next = 0
  const everyGame = (): string => `/games/${(next++ % 1000) + 1}/replay`
  const targets = await interleaved([
    ['node:http, one game', async () => await load(`${nodeServer.url}/games/42/replay`)],
    ['Fastify, one game', async () => await load(`${fastifyServer.url}/games/42/replay`)],
    ['service, one game', async () => await load(`${service.url}/games/42/replay`)],
    ['node:http, 1,000 games in turn', async () => await load(nodeServer.url, { paths: everyGame })],
    ['Fastify, 1,000 games in turn', async () => await load(fastifyServer.url, { paths: everyGame })],
    ['service, 1,000 games in turn', async () => await load(service.url, { paths: everyGame })]
  ])
  console.log('\ndefault settings (log at info to a file, CORS list, metrics, load shedding)   req/s  p99 ms  non-302')
  for (const [name, result] of targets) console.log(row(name, result))
  for (const games of ['one game', '1,000 games in turn']) {
    const service = targets.get(`service, ${games}`)
    for (const [yardstick, limit] of [['Fastify', 0.6], ['node:http', 0.5]] as const) {
      const against = targets.get(`${yardstick}, ${games}`)
      console.log(`  service ÷ ${yardstick}, ${games}, each round: ${perRound(service, against)}`)
      target(`redirect ÷ ${yardstick} constant 302, req/s, ${games}`, compare(service, against), 'min', limit)
    }
  }

  // Latency at a rate all three sustain: half of what the bare server answers.
  const rate = Math.round((targets.get('node:http, one game')?.rps ?? NaN) / 2)
  const fixed = await interleaved([
    ['node:http', async () => await load(`${nodeServer.url}/games/42/replay`, { rate })],
    ['Fastify', async () => await load(`${fastifyServer.url}/games/42/replay`, { rate })],
    ['service', async () => await load(`${service.url}/games/42/replay`, { rate })]
  ])
  console.log(`\nat ${rate} requests a second (half of node:http's maximum)                      req/s  p99 ms  non-302`)
  for (const [name, result] of fixed) console.log(row(name, result))
  const p99 = (load: Load): number => load.p99
  console.log(`  service p99 ÷ node:http p99, each round: ${perRound(fixed.get('service'), fixed.get('node:http'), p99)}`)
  target('redirect p99 ÷ node:http p99, at half its maximum rate', compare(fixed.get('service'), fixed.get('node:http'), p99), 'max', 2)

  // Tracing on, every request sampled and exported: every request's span reaches the sink.
  const traced = await startService({ ...backends(small.url), ...defaults, ...tracingEnv, OTEL_SERVICE_NAME: 'replay-gate-traced' }, { stdout: await logFile() })
  let answered = 0
  const tracedLoad = async (): Promise<Load> => {
    const run = await load(`${traced.url}/games/42/replay`)
    answered += run.answered + run.errors
    return run
  }
  const tracing = await interleaved([
    ['node:http', async () => await load(`${nodeServer.url}/games/42/replay`)],
    ['service, default settings and tracing', tracedLoad]
  ])
  await traced.stop() // sends the spans still queued
  console.log('\ntracing on, every request sampled, exported over OTLP/HTTP (protobuf) to a sink in the bench   req/s  p99 ms  non-302')
  for (const [name, result] of tracing) console.log(row(name, result))
  // A request that the client gave up on at the end of a run may still have its span: more spans than answers is expected.
  console.log(`  answers in all runs (warm-up included): ${answered}; request spans received: ${sink.roots('replay-gate-traced')}; spans: ${sink.spans('replay-gate-traced')}`)
  target('tracing: answers without their request span at the sink', Math.max(0, answered - sink.roots('replay-gate-traced')), 'max', 0)
  console.log(`  service with tracing ÷ node:http, each round: ${perRound(tracing.get('service, default settings and tracing'), tracing.get('node:http'))}`)
  target('redirect with tracing exporting ÷ node:http constant 302, req/s', compare(tracing.get('service, default settings and tracing'), tracing.get('node:http')), 'min', 0.35)

  // Nothing cached: every request is looked up and signed.
  const cold = async (url: string): Promise<Service> => await startService({ ...backends(url), LOOKUP_CACHE_SIZE: '0', PRESIGN_REUSE_SECONDS: '0' })
  const coldSmall = await cold(small.url)
  const coldLarge = await cold(large.url)
  const random = (games: number) => (): string => `/games/${1 + Math.floor(Math.random() * games)}/replay`
  const coldTable = await interleaved([
    ['nothing cached, random of 1,000 games', async () => await load(coldSmall.url, { paths: random(1000) })],
    ['nothing cached, random of 1,000,000 games', async () => await load(coldLarge.url, { paths: random(1_000_000) })]
  ])
  console.log('\nthe cold path (default settings, log at warn)                             req/s  p99 ms  non-302')
  for (const [name, result] of coldTable) console.log(row(name, result))
  const [coldLargeRuns, coldSmallRuns] = [coldTable.get('nothing cached, random of 1,000,000 games'), coldTable.get('nothing cached, random of 1,000 games')]
  console.log(`  p99 at 1,000,000 ÷ at 1,000, each round: ${perRound(coldLargeRuns, coldSmallRuns, p99)}`)
  target('cold p99, 1,000,000 games ÷ 1,000 games', compare(coldLargeRuns, coldSmallRuns, p99), 'max', 1.5)
  const errors = [...layerTable.values(), ...targets.values(), ...fixed.values(), ...coldTable.values(), ...tracing.values()].reduce((n, l) => n + l.errors, 0)
  target('answers other than 302, in all runs', errors, 'max', 0)
  printTargets('redirect targets')
}

await runBench(main)
