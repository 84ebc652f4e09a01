// Generated requests against every route, over real sockets: odd ids, query
// strings, methods, odd Accept-Encoding (a game with compressed variants among
// them), and on /stream odd Range, If-* and Origin headers. Every
// answer must be a 2xx, 3xx or 4xx (never a 5xx, a reset or a short body), and
// every 4xx the contract's JSON. FUZZ_SEED replays a run; FUZZ_REQUESTS sets its size.
import fc from 'fast-check'
import { randomBytes } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import { GamesRepository } from '../src/db/games.js'
import { variantKey } from '../src/replay/replay-key.js'
import { buildTestApp, listen, seedReplays, testConfig } from './helper.js'
import { send, serialize, type RawRequest, type RawResponse } from './support/raw-http.js'

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 3000)
const CONCURRENCY = 8

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const { db, bucket } = await seedReplays(t, [
  { id: '1', game_folder: 'g1', replay_file: 'match.fafreplay', body: randomBytes(20_000), contentType: 'application/octet-stream' },
  { id: '2', game_folder: 'g2', replay_file: null },
  { id: '3', game_folder: 'g3', replay_file: 'gone.json' },
  { id: '4', game_folder: 'g4', replay_file: 'r.json', body: '{"replay":4}', contentType: 'application/json' }
])
// Game 4 has compressed variants recorded: Accept-Encoding picks among them.
const games = new GamesRepository(db)
for (const [encoding, body] of [['gzip', gzipSync('{"replay":4}')], ['br', brotliCompressSync('{"replay":4}')]] as const) {
  const key = variantKey('g4/r.json', encoding)
  await bucket.admin.send(new PutObjectCommand({ Bucket: bucket.s3.bucket, Key: key, Body: body, ContentType: 'application/json', ContentEncoding: encoding }))
  await games.recordVariant({ gameId: '4', encoding, key, size: body.length, identityKey: 'g4/r.json', identitySize: 12, identityEtag: undefined, identitySha256: '0'.repeat(64) })
}
const storage = bucket.storage()
// Rate limits and load shedding are off (testConfig): every request is judged on its own.
const app = await buildTestApp(t, { config: testConfig({ corsOrigins: ['https://app.example'] }), db, storage })
const port = Number(new URL(await listen(app)).port)
const publicEndpoint = bucket.s3.publicEndpoint as string

const token = (chars: string, max: number) => fc.string({ unit: fc.constantFrom(...chars), maxLength: max })
const printable = fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ''))

const gameId = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('1', '4') },
  fc.constantFrom('2', '3', '999', '0', '00', '01', '+1', '-1', '1.0', '1e3', '0x10', '1_0', ' 1', '%201', '9007199254740991', '9007199254740992',
    '99999999999999999999999', '..', '%2e%2e', '..%2f..%2fetc%2fpasswd', '%2F', '%', '%zz', '%E0%A4%A', '%00', '%C3%A9', 'é', '١', '%EF%BC%91',
    '1'.repeat(8192), '9'.repeat(20_000), ''),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.double().map(String),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  token('0123456789abcdefxXeE+-._~%', 12)
)
const query = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  fc.constantFrom('?X-Amz-Signature=0&X-Amz-Expires=604800', '?response-content-type=text/html', '?response-content-disposition=inline',
    '?x-id=PutObject', '?a=%zz', '?' + 'q'.repeat(2000), '?&&==', '?id=2'),
  fc.dictionary(token('abcXYZ-_', 8), printable, { maxKeys: 3 }).map((d) => '?' + new URLSearchParams(d).toString())
)
const target = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(gameId, fc.constantFrom('/replay', '/replay/url', '/replay/stream', '/replay/stream', '/replay/stream'), query).map(([id, route, q]) => `/games/${id}${route}${q}`) },
  fc.tuple(gameId, query).map(([id, q]) => `/games/${id}${q}`),
  fc.constantFrom('/healthz', '/readyz', '/metrics', '/openapi.json', '/', '/games', '/games/', '/games/1/replay/', '/games/1/replay/stream/x',
    '//games/1/replay', '/GAMES/1/replay', '/games/1/replay?', '*', 'http://evil.example/games/1/replay', '/games/1/replay#frag'),
  printable.map((s) => `/${encodeURIComponent(s)}`)
)
const method = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('GET', 'HEAD') },
  fc.constantFrom('POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'CONNECT', 'get', 'G ET', 'BREW')
)
const httpDate = fc.date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toUTCString())
const range = fc.oneof(
  fc.tuple(fc.nat(30_000), fc.nat(30_000)).map(([a, b]) => `bytes=${a}-${b}`),
  fc.nat(30_000).map((n) => `bytes=-${n}`),
  fc.nat(30_000).map((n) => `bytes=${n}-`),
  fc.constantFrom('bytes=0-0,5-9', 'bytes=', 'bytes=-', 'bytes=a-b', 'items=0-5', 'bytes=0-99999999999999999999', 'bytes=-0', 'bytes = 0-1', 'bytes=1-0'),
  printable
)
const coding = fc.oneof(fc.constantFrom('gzip', 'br', 'zstd', 'deflate', 'identity', '*', 'x-gzip', 'GZIP', 'compress', ''), printable.map((s) => s.replace(/[,;]/g, '')))
const weight = fc.oneof(fc.constantFrom('', ';q=0', ';q=1', ';q=0.5', ';q=1.000', ';q=2', ';q=-1', ';q=', ';q=0.0001', ';q=abc', ';level=9', ';q=0;q=1'), printable.map((s) => `;${s}`))
const acceptEncoding = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.array(fc.tuple(coding, weight).map(([c, w]) => `${c}${w}`), { maxLength: 6 }), fc.constantFrom(', ', ',', ' , ')).map(([parts, separator]) => parts.join(separator)) },
  fc.constantFrom('gzip, deflate, br, zstd', 'gzip, deflate', 'identity', 'identity;q=0', '*;q=0', ',,,', `${'gzip;q=0.5, '.repeat(680)}br`),
  printable
)
const etag = fc.oneof(fc.constantFrom('*', '"x"', 'W/"x"', '"', ''), printable)
const headers = fc.record({
  Host: fc.oneof({ weight: 5, arbitrary: fc.constant('replay-gate.test') }, fc.constantFrom('evil.example', '', 'a'.repeat(300)), printable),
  Range: fc.option(range, { freq: 2 }),
  'Accept-Encoding': fc.option(acceptEncoding, { freq: 2 }),
  'If-Match': fc.option(etag, { freq: 5 }),
  'If-None-Match': fc.option(etag, { freq: 5 }),
  'If-Modified-Since': fc.option(fc.oneof(httpDate, printable, fc.constantFrom('yesterday', '0', 'Tue, 99 Foo 2024')), { freq: 4 }),
  'If-Unmodified-Since': fc.option(fc.oneof(httpDate, printable, fc.constantFrom('soon', '-1')), { freq: 4 }),
  'If-Range': fc.option(fc.oneof(etag, httpDate), { freq: 5 }),
  Origin: fc.option(fc.constantFrom('https://app.example', 'null', 'https://evil.example', 'https://app.example.evil', '*'), { freq: 3 }),
  'X-Forwarded-Host': fc.option(fc.constantFrom('evil.example', 'localhost:1'), { freq: 5 }),
  'X-Forwarded-Proto': fc.option(fc.constantFrom('https', 'gopher'), { freq: 5 }),
  Forwarded: fc.option(fc.constantFrom('host=evil.example;proto=https', 'for=1.2.3.4'), { freq: 5 }),
  Authorization: fc.option(fc.constantFrom('Bearer abc', 'Basic Zm9vOmJhcg=='), { freq: 8 })
}, { requiredKeys: ['Host'] })
const request: fc.Arbitrary<RawRequest> = fc.record({ method, target, headers, body: fc.option(printable, { freq: 6 }) }).map(({ method, target, headers, body }) => ({
  method,
  target,
  headers: Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== null && entry[1] !== undefined),
  body: body ?? undefined
}))

const ERROR_KEYS = ['code', 'error', 'message', 'statusCode']

/** What is wrong with an answer, or undefined. */
function verdict (req: RawRequest, res: RawResponse): string | undefined {
  if (res.error !== undefined) return `connection ended badly: ${res.error}`
  if (res.status === 0) return 'no status line'
  if (res.status >= 500) return `a ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`
  const length = res.headers['content-length']
  const bodiless = req.method === 'HEAD' || res.status === 304 || res.status === 204
  if (length !== undefined && !bodiless && res.body.length !== Number(length)) return `body of ${res.body.length} bytes, Content-Length ${length}`
  if (res.status >= 400 && !bodiless) {
    let body: Record<string, unknown>
    try { body = JSON.parse(res.body.toString('utf8')) as Record<string, unknown> } catch { return `a ${res.status} without a JSON body: ${res.body.toString('latin1').slice(0, 100)}` }
    if (Object.keys(body).sort().join() !== ERROR_KEYS.join() || body.statusCode !== res.status || !/^[A-Z][A-Z_]+$/.test(String(body.code))) {
      return `a ${res.status} whose body is not the contract's: ${JSON.stringify(body).slice(0, 200)}`
    }
  }
  if (res.status === 302 && !(res.headers.location ?? '').startsWith(`${publicEndpoint}/`)) return `Location not on the public endpoint: ${res.headers.location}`
  if (res.headers['access-control-allow-origin'] !== undefined && !['https://app.example'].includes(res.headers['access-control-allow-origin'])) {
    return `CORS allowed ${res.headers['access-control-allow-origin']}`
  }
  const header = (name: string) => req.headers.find(([n]) => n === name)?.[1]
  const onlyDates = ['Range', 'If-Match', 'If-None-Match', 'If-Range'].every((name) => header(name) === undefined)
  const unparseable = (name: string) => header(name) === undefined || Number.isNaN(Date.parse(header(name) as string))
  if (req.method === 'GET' && /^\/games\/(1|4)\/replay\/stream(\?|$)/.test(req.target) && onlyDates && unparseable('If-Modified-Since') &&
    unparseable('If-Unmodified-Since') && header('Authorization') === undefined && res.status !== 200) {
    return `an unparseable date was not ignored: ${res.status}`
  }
  return undefined
}

t.test(`${REQUESTS} generated requests (seed ${SEED}): never a 5xx, a reset or a short body; every 4xx the contract's JSON`, async (t) => {
  const requests = fc.sample(request, { seed: SEED, numRuns: REQUESTS })
  const statuses = new Map<number, number>()
  let streams = 0
  let reachedS3 = 0
  const failures: string[] = []
  let next = 0
  const started = Date.now()
  // The first tenth warms the process up (code compiled, pools and caches filled);
  // memory is measured from its end, so that what grows after is what a leak would be.
  const warmUp = Math.floor(requests.length / 10)
  let heapBefore = 0
  const run = async (until: number) => await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < until) {
      const index = next++
      const req = requests[index] as RawRequest
      const res = await send(port, req)
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      if (/^\/games\/[^/?]*\/replay\/stream(\?|$)/.test(req.target) && ['GET', 'HEAD'].includes(req.method)) {
        streams++
        if (res.headers['x-replay-delivery'] === 'stream' || res.body.includes('REPLAY_OBJECT_MISSING')) reachedS3++
      }
      const wrong = verdict(req, res)
      if (wrong !== undefined && failures.length < 10) failures.push(`#${index} ${JSON.stringify(serialize(req)).slice(0, 400)}\n    ${wrong}`)
    }
  }))
  await run(warmUp)
  gc()
  heapBefore = process.memoryUsage().heapUsed
  await run(requests.length)
  const seconds = (Date.now() - started) / 1000
  gc()
  const heapGrowth = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024
  const histogram = [...statuses.entries()].sort(([a], [b]) => a - b).map(([status, count]) => `${status}: ${count}`).join(', ')
  t.comment(`seed ${SEED}: ${REQUESTS} requests in ${seconds.toFixed(1)} s; statuses ${histogram}`)
  t.comment(`/stream: ${reachedS3} of ${streams} GET/HEAD requests reached S3; heap ${heapGrowth >= 0 ? '+' : ''}${heapGrowth.toFixed(1)} MiB from the end of the warm-up (${warmUp} requests) to the end`)
  t.same(failures, [], `every answer as the contract says (replay: FUZZ_SEED=${SEED})`)
  t.ok([...statuses.keys()].every((s) => s >= 200 && s < 500), 'only 2xx, 3xx and 4xx')
  // 54–56% reach it in runs of 3,000 requests, about half in runs of 1,000 (about 400 to
  // /stream; one had 199 of 399). Two in five is over four standard deviations below that.
  t.ok(reachedS3 >= streams * 0.4, `at least two in five of the /stream requests reached S3 (${reachedS3} of ${streams})`)
  t.ok([200, 206, 302, 304, 400, 404, 416].every((s) => (statuses.get(s) ?? 0) > 0), 'a spread of answers: the generators reach every branch that matters')
  t.ok(heapGrowth < 8, `memory after the run within a few MiB of before (${heapGrowth.toFixed(1)} MiB)`)
})
