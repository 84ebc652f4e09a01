import { randomBytes } from 'node:crypto'
import { get as httpGet } from 'node:http'
import t from 'tap'
import { Metrics } from '../../src/observability/metrics.js'
import { buildTestApp, listen, seedReplays, testConfig } from '../helper.js'
import { sha256 } from '../support/bytes.js'
import { closedPort, silentPort, silentServer } from '../support/silent-server.js'
import { startTcpProxy } from '../support/tcp-proxy.js'
import { sleep, waitUntil } from '../support/wait.js'

const small = randomBytes(100_000)
const large = randomBytes(16 * 1024 * 1024 + 3)
// 44 names an object the bucket does not have.
const { db, bucket } = await seedReplays(t, [
  { id: '42', game_folder: 'g42', replay_file: 'replay.json', body: small, contentType: 'application/octet-stream' },
  { id: '43', game_folder: 'g43', replay_file: 'big.fafreplay', body: large, contentType: 'application/x-replay' },
  { id: '44', game_folder: 'g44', replay_file: 'gone.json' },
  { id: '45', game_folder: 'g45', replay_file: null }
])

const storage = bucket.storage()
const app = await buildTestApp(t, { config: testConfig(), db, storage })
const base = await listen(app)
const url = `${base}/games/42/replay/stream`

const full = await fetch(url)
const etag = full.headers.get('etag') as string
const lastModified = full.headers.get('last-modified') as string
await full.arrayBuffer()

t.test('GET streams the whole replay with the headers S3 gives, and the redirect\'s name and type', async (t) => {
  const res = await fetch(url)
  t.equal(res.status, 200)
  t.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(small))
  t.equal(res.headers.get('content-length'), String(small.length))
  t.equal(res.headers.get('content-type'), 'application/json')
  t.equal(res.headers.get('content-disposition'), 'attachment; filename="game-42.replay.json"')
  t.equal(res.headers.get('accept-ranges'), 'bytes')
  t.equal(res.headers.get('cache-control'), 'private')
  t.equal(res.headers.get('x-replay-delivery'), 'stream')
  t.match(etag, /^"[^"]+"$/)
  t.ok(Number.isFinite(Date.parse(lastModified)), 'Last-Modified is an HTTP date')

  const redirected = await fetch(`${base}/games/42/replay`, { method: 'HEAD' })
  t.equal(redirected.headers.get('content-disposition'), res.headers.get('content-disposition'), 'the same disposition as the redirect')
  t.equal(redirected.headers.get('content-type'), res.headers.get('content-type'), 'the same type as the redirect')

  const other = await fetch(`${base}/games/43/replay/stream`)
  t.equal(other.headers.get('content-type'), 'application/x-replay', 'the stored type stands when the extension says nothing')
  t.equal(sha256(Buffer.from(await other.arrayBuffer())), sha256(large))
})

t.test('/replay/url names this route as streamUrl', async (t) => {
  const { streamUrl } = (await app.inject({ url: '/games/42/replay/url' })).json()
  const res = await fetch(`${base}${streamUrl as string}`)
  t.equal(res.status, 200)
  t.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(small))
})

t.test('HEAD answers the same headers from HeadObject, without a body', async (t) => {
  const res = await app.inject({ method: 'HEAD', url: '/games/42/replay/stream' })
  t.equal(res.statusCode, 200)
  t.equal(res.body, '')
  t.match(res.headers, {
    'content-length': String(small.length),
    'content-type': 'application/json',
    'content-disposition': 'attachment; filename="game-42.replay.json"',
    'accept-ranges': 'bytes',
    etag,
    'last-modified': lastModified,
    'x-replay-delivery': 'stream'
  })
  const ranged = await app.inject({ method: 'HEAD', url: '/games/42/replay/stream', headers: { range: 'bytes=10-19' } })
  t.equal(ranged.statusCode, 206)
  t.equal(ranged.headers['content-range'], `bytes 10-19/${small.length}`)
  t.equal(ranged.headers['content-length'], '10')
  const cors = await buildTestApp(t, { config: testConfig({ corsOrigins: '*' }), db, storage })
  const crossOrigin = await cors.inject({ method: 'HEAD', url: '/games/42/replay/stream', headers: { origin: 'http://page.test' } })
  t.equal(crossOrigin.headers['access-control-allow-origin'], '*', 'CORS headers on HEAD too')
  t.equal(crossOrigin.headers['content-length'], String(small.length))
  const notModified = await app.inject({ method: 'HEAD', url: '/games/42/replay/stream', headers: { 'if-none-match': etag } })
  t.equal(notModified.statusCode, 304)
  t.equal(notModified.headers.etag, etag)
})

async function get (headers: Record<string, string>): Promise<{ status: number, headers: Headers, body: Buffer }> {
  const res = await fetch(url, { headers })
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

t.test('Range: 206 with Content-Range; several or malformed ranges get the whole object; 416 past the end', async (t) => {
  const first = await get({ range: 'bytes=0-99' })
  t.equal(first.status, 206)
  t.equal(first.headers.get('content-range'), `bytes 0-99/${small.length}`)
  t.equal(first.headers.get('content-length'), '100')
  t.same(first.body, small.subarray(0, 100))

  const open = await get({ range: 'bytes=99990-' })
  t.equal(open.status, 206)
  t.equal(open.headers.get('content-range'), `bytes 99990-99999/${small.length}`)
  t.same(open.body, small.subarray(99_990))

  const suffix = await get({ range: 'bytes=-10' })
  t.equal(suffix.status, 206)
  t.equal(suffix.headers.get('content-range'), `bytes 99990-99999/${small.length}`)
  t.same(suffix.body, small.subarray(-10))

  for (const range of ['bytes=0-9,20-29', 'bytes=5-2', 'items=0-9', 'bytes=abc']) {
    const whole = await get({ range })
    t.equal(whole.status, 200, range)
    t.equal(whole.body.length, small.length, `${range}: the whole object`)
  }

  const past = await get({ range: `bytes=${small.length}-` })
  t.equal(past.status, 416)
  t.equal(past.headers.get('content-range'), `bytes */${small.length}`)
  t.equal(JSON.parse(past.body.toString()).code, 'RANGE_NOT_SATISFIABLE')
})

t.test('conditionals: 304 and 412 as S3 answers them; an unparseable date is ignored', async (t) => {
  const future = new Date(Date.now() + 86_400_000).toUTCString()
  const past = 'Mon, 01 Jan 2001 00:00:00 GMT'

  const cached = await get({ 'if-none-match': etag })
  t.equal(cached.status, 304)
  t.equal(cached.body.length, 0)
  t.equal(cached.headers.get('x-replay-delivery'), 'stream')
  t.equal(cached.headers.get('etag'), etag, 'the 304 carries the validators, even where S3 sent it bare')
  t.equal(cached.headers.get('last-modified'), lastModified)
  t.equal((await get({ 'if-none-match': '"something-else"' })).status, 200)
  t.equal((await get({ 'if-modified-since': future })).status, 304)
  t.equal((await get({ 'if-modified-since': past })).status, 200)
  t.equal((await get({ 'if-modified-since': 'yesterday-ish' })).status, 200, 'unparseable If-Modified-Since: ignored')

  t.equal((await get({ 'if-unmodified-since': future })).status, 200)
  t.equal((await get({ 'if-unmodified-since': 'not a date' })).status, 200, 'unparseable If-Unmodified-Since: ignored')
  t.equal((await get({ 'if-match': etag })).status, 200)
  for (const junk of ['<$OxX^  {', 'X}aILC  x', 'yesterday']) {
    t.equal((await get({ 'if-none-match': junk })).status, 200, `If-None-Match: ${junk}: matches nothing, so the replay is sent`)
    // No valid entity tag in it: nothing can match.
    t.equal((await get({ 'if-match': junk })).status, 412, `If-Match: ${junk} can never be met, and never turns into a storage error`)
  }
  const failed = await get({ 'if-unmodified-since': past })
  t.equal(failed.status, 412)
  t.same(JSON.parse(failed.body.toString()), {
    statusCode: 412, code: 'PRECONDITION_FAILED', error: 'Precondition Failed', message: 'The replay does not match the request\'s conditions'
  })
  t.equal((await get({ 'if-match': '"something-else"' })).status, 412)
  const headFailed = await app.inject({ method: 'HEAD', url: '/games/42/replay/stream', headers: { 'if-match': '"something-else"' } })
  t.equal(headFailed.statusCode, 412)
  t.equal((await get({ 'if-match': 'not-a-tag {}' })).status, 412, 'an If-Match without one well-formed tag can never be met')
  t.equal((await get({ 'if-match': `junk, ${etag}` })).status, 200, 'the well-formed tags of a list still count')
})

t.test('a client\'s headers never turn into a storage error: tags with bytes above 0x7f, dates S3 refuses', async (t) => {
  const metrics = new Metrics({ processMetrics: false })
  const lines: string[] = []
  const watched = await buildTestApp(t, { config: testConfig(), db, storage, metrics, logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } })
  const target = `${await listen(watched)}/games/42/replay/stream`
  const absurd = '+275760-09-13T00:00:00Z'
  const cases: Array<[Record<string, string>, number, string]> = [
    [{ 'if-none-match': '"\xe9"' }, 200, 'If-None-Match with a non-ASCII tag matches nothing: the replay is sent'],
    [{ 'if-none-match': `"\xe9", ${etag}` }, 304, 'the ASCII tags of the list still count'],
    [{ 'if-match': '"\xe9"' }, 412, 'If-Match with no usable tag can never be met'],
    [{ 'if-modified-since': absurd }, 200, 'a date S3 refuses is no HTTP-date: ignored'],
    [{ 'if-unmodified-since': absurd }, 200, 'the same for If-Unmodified-Since'],
    [{ range: 'bytes=0-9', 'if-range': absurd }, 200, 'an If-Range that is no HTTP-date does not match: the whole object'],
    [{ range: 'bytes=-0' }, 416, 'a zero-length suffix is unsatisfiable (RFC 9110)']
  ]
  for (const [headers, status, why] of cases) {
    const res = await fetch(target, { headers })
    await res.arrayBuffer()
    t.equal(res.status, status, why)
  }
  t.same(lines.filter((line) => /"level":50/.test(line)), [], 'no error logged')
  t.notMatch(await metrics.registry.metrics(), /replay_gate_s3_errors_total\{/, 'no S3 error counted')
})

t.test('If-Range: the range only while the validator matches, else the whole current object', async (t) => {
  const matching = await get({ range: 'bytes=0-9', 'if-range': etag })
  t.equal(matching.status, 206)
  t.same(matching.body, small.subarray(0, 10))
  const byDate = await get({ range: 'bytes=0-9', 'if-range': lastModified })
  t.equal(byDate.status, 206)
  for (const stale of ['"older-etag"', `W/${etag}`, 'Mon, 01 Jan 2001 00:00:00 GMT', 'garbage']) {
    const whole = await get({ range: 'bytes=0-9', 'if-range': stale })
    t.equal(whole.status, 200, stale)
    t.same(whole.body, small, `${stale}: the whole object`)
  }
  t.equal((await get({ 'if-range': '"older-etag"' })).status, 200, 'If-Range without Range means nothing')
  const headStale = await app.inject({ method: 'HEAD', url: '/games/42/replay/stream', headers: { range: 'bytes=0-9', 'if-range': '"older-etag"' } })
  t.equal(headStale.statusCode, 200)
  t.equal(headStale.headers['content-length'], String(small.length))
})

t.test('errors are JSON with their codes', async (t) => {
  const cases: Array<[string, number, string]> = [
    ['/games/44/replay/stream', 404, 'REPLAY_OBJECT_MISSING'],
    ['/games/45/replay/stream', 404, 'REPLAY_NOT_AVAILABLE'],
    ['/games/7/replay/stream', 404, 'GAME_NOT_FOUND'],
    ['/games/1e3/replay/stream', 400, 'INVALID_GAME_ID']
  ]
  for (const [path, status, code] of cases) {
    const res = await app.inject({ url: path })
    t.equal(res.statusCode, status, path)
    t.equal(res.json().code, code, path)
  }
  const head = await app.inject({ method: 'HEAD', url: '/games/44/replay/stream' })
  t.equal(head.statusCode, 404, 'HEAD of a missing object')
  t.equal(head.body, '')
})

t.test('S3 refusing or not answering: 502 or 504 with Retry-After, within seconds', async (t) => {
  const cases: Array<[number, number, string]> = [
    [await closedPort(), 502, 'STORAGE_UNAVAILABLE'],
    [await silentPort(t), 504, 'STORAGE_TIMEOUT']
  ]
  for (const [port, status, code] of cases) {
    const broken = bucket.storage({ s3: { endpoint: `http://127.0.0.1:${port}`, connectTimeoutMs: 300, firstByteTimeoutMs: 800 } })
    const brokenApp = await buildTestApp(t, { config: testConfig(), db, storage: broken })
    for (const method of ['GET', 'HEAD'] as const) {
      const started = Date.now()
      const res = await brokenApp.inject({ method, url: '/games/42/replay/stream' })
      t.equal(res.statusCode, status, `${method} ${code}`)
      t.equal(res.headers['retry-after'], '5')
      if (method === 'GET') t.equal(res.json().code, code)
      t.ok(Date.now() - started < 5000, `${method} ${code}: in seconds, not a hang`)
    }
  }
  const wrongSecret = bucket.storage({ credentials: { ...bucket.credentials, secretAccessKey: 'not-the-secret' } })
  const denied = await buildTestApp(t, { config: testConfig(), db, storage: wrongSecret })
  const refused = await denied.inject({ url: '/games/42/replay/stream' })
  t.equal(refused.statusCode, 502, 'S3 refusing the service\'s credentials')
  t.equal(refused.json().code, 'STORAGE_UNAVAILABLE')
})

t.test('a slow reader is not cut off: no idle timer once the bytes flow', async (t) => {
  const strict = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage({ s3: { firstByteTimeoutMs: 300 } }) })
  const res = await fetch(`${await listen(strict)}/games/43/replay/stream`)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const chunks: Uint8Array[] = []
  let pauses = 0
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    chunks.push(next.value)
    if (pauses < 2 && chunks.length % 50 === 1) {
      pauses++
      await sleep(1200) // elapsed time is the point: four times the first-byte limit
    }
  }
  t.equal(sha256(Buffer.concat(chunks)), sha256(large), 'every byte, after pauses longer than the timeout')
})

t.test('S3 failing mid-download: the client sees a broken transfer, never a short complete one', async (t) => {
  const proxy = await startTcpProxy(t, bucket.s3.endpoint as string, { cutAfterBytes: 256 * 1024 })
  const flaky = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage({ s3: { endpoint: proxy.endpoint } }) })
  const res = await fetch(`${await listen(flaky)}/games/43/replay/stream`)
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-length'), String(large.length))
  await t.rejects(res.arrayBuffer(), 'reading the body fails')
})

t.test('clients that go away: the S3 requests are aborted, nothing stays open, the service still serves', async (t) => {
  const proxy = await startTcpProxy(t, bucket.s3.endpoint as string)
  const watched = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage({ s3: { endpoint: proxy.endpoint } }) })
  const watchedBase = await listen(watched)
  // The readiness check's connection (the S3 client keeps it alive) is no download's.
  const before = proxy.open()
  // Each client reads the first bytes of a 16 MiB replay, then drops the connection.
  const downloads = Array.from({ length: 20 }, async () => {
    await new Promise<void>((resolve, reject) => {
      const req = httpGet(`${watchedBase}/games/43/replay/stream`, (res) => {
        res.once('data', () => { req.destroy(); resolve() })
      })
      req.on('error', reject)
    })
  })
  await Promise.all(downloads)
  await waitUntil(() => proxy.open() <= before ? true : undefined)
  t.ok(proxy.open() <= before, 'no connection to S3 stays open')
  const after = await fetch(`${watchedBase}/games/43/replay/stream`)
  t.equal(sha256(Buffer.from(await after.arrayBuffer())), sha256(large), 'a whole download afterwards')
})

t.test('a client that leaves before S3 answers: the S3 request is dropped at once', async (t) => {
  const hung = await silentServer(t)
  const patient = await buildTestApp(t, {
    config: testConfig(),
    db,
    storage: bucket.storage({ s3: { endpoint: `http://127.0.0.1:${hung.port}`, firstByteTimeoutMs: 60_000 } })
  })
  const req = httpGet(`${await listen(patient)}/games/42/replay/stream`)
  req.on('error', () => {})
  await waitUntil(() => hung.open() > 0 ? true : undefined)
  t.equal(hung.open(), 1, 'the service asked S3')
  req.destroy()
  await waitUntil(() => hung.open() === 0 ? true : undefined)
  t.equal(hung.open(), 0, 'and hung up on it when the client left, long before its own deadline')
})
