import { randomBytes } from 'node:crypto'
import { DeleteObjectCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import { buildTestApp, describeBackends, listen, seedReplays, testConfig } from '../helper.js'
import { sha256 } from '../support/bytes.js'
import { closedPort } from '../support/silent-server.js'

t.comment(`backends: ${describeBackends()}`)

const replay = randomBytes(256 * 1024 + 17)
// 44 names an object the bucket does not have; 45 a key the service must refuse to sign.
const { db, bucket } = await seedReplays(t, [
  { id: '42', game_folder: 'season-1/game-42', replay_file: 'replay.json', body: replay, contentType: 'application/octet-stream' },
  { id: '43', game_folder: 'season-1/game-43', replay_file: null },
  { id: '44', game_folder: 'season-1/game-44', replay_file: 'gone.bin' },
  { id: '45', game_folder: '../other-tenant', replay_file: 'secret.json' },
  { id: '9007199254740991', game_folder: 'edge', replay_file: 'max.fafreplay', body: 'largest id', contentType: 'application/x-replay' }
])

const storage = bucket.storage()
const app = await buildTestApp(t, { config: testConfig(), db, storage })
const base = await listen(app)

t.test('GET follows the 302 to the stored bytes', async (t) => {
  const first = await fetch(`${base}/games/42/replay`, { redirect: 'manual' })
  t.equal(first.status, 302)
  t.equal(first.headers.get('x-replay-delivery'), 'redirect')
  t.equal(first.headers.get('cache-control'), 'no-cache', 'revalidated each time: a browser may answer a HEAD from a cached GET redirect')
  const location = new URL(first.headers.get('location') ?? '')
  t.equal(location.origin, new URL(bucket.s3.publicEndpoint as string).origin, 'points at the public endpoint')

  const followed = await fetch(`${base}/games/42/replay`)
  t.equal(followed.status, 200)
  t.equal(sha256(Buffer.from(await followed.arrayBuffer())), sha256(replay), 'the same bytes as stored')
  t.equal(followed.headers.get('content-disposition'), 'attachment; filename="game-42.replay.json"')
  t.equal(followed.headers.get('content-type'), 'application/json', 'the type asked for overrides the stored one')
})

t.test('an object without a known extension keeps its stored type', async (t) => {
  const res = await fetch(`${base}/games/9007199254740991/replay`)
  t.equal(res.status, 200)
  t.equal(await res.text(), 'largest id')
  t.equal(res.headers.get('content-type'), 'application/x-replay')
  t.equal(res.headers.get('content-disposition'), 'attachment; filename="game-9007199254740991.replay.fafreplay"')
})

t.test('HEAD is answered by the service, never redirected: the headers the download will have', async (t) => {
  const head = await fetch(`${base}/games/42/replay`, { method: 'HEAD', redirect: 'manual' })
  t.equal(head.status, 200, 'no redirect to follow')
  t.equal(head.headers.get('location'), null)
  const download = await fetch(`${base}/games/42/replay`)
  await download.arrayBuffer()
  for (const name of ['content-length', 'content-type', 'content-disposition', 'etag', 'last-modified']) {
    t.equal(head.headers.get(name), download.headers.get(name), `${name}: as the download has it`)
  }
  t.equal(head.headers.get('content-length'), String(replay.length))
  t.equal(head.headers.get('accept-ranges'), 'bytes')
  t.equal(head.headers.get('x-replay-delivery'), 'redirect', 'what a GET would do')

  const getUrl = (await fetch(`${base}/games/42/replay`, { redirect: 'manual' })).headers.get('location') ?? ''
  t.equal((await fetch(getUrl, { method: 'HEAD' })).status, 403, 'S3 refuses a HEAD on the GET-signed URL: why HEAD is never redirected')
})

t.test('HEAD: what S3 said is kept like the lookup; a missing object is 404, S3 out of reach a 502', async (t) => {
  const { db: own, bucket: store } = await seedReplays(t, [
    { id: '1', game_folder: 'g', replay_file: 'r.bin', body: 'twelve bytes' },
    { id: '2', game_folder: 'g', replay_file: 'gone.bin' }
  ])
  const cache = { size: 100, ttlSeconds: 300, missTtlSeconds: 2 }
  const kept = await buildTestApp(t, { config: testConfig(), db: own, storage: store.storage({ headCache: cache }) })
  t.equal((await kept.inject({ method: 'HEAD', url: '/games/1/replay' })).headers['content-length'], '12')
  await store.admin.send(new DeleteObjectCommand({ Bucket: store.s3.bucket, Key: 'g/r.bin' }))
  t.equal((await kept.inject({ method: 'HEAD', url: '/games/1/replay' })).statusCode, 200, 'kept: a recorded replay does not change')
  const uncached = await buildTestApp(t, { config: testConfig(), db: own, storage: store.storage() })
  const missing = await uncached.inject({ method: 'HEAD', url: '/games/1/replay' })
  t.equal(missing.statusCode, 404, 'asked again, S3 no longer has it')
  t.equal(missing.body, '', 'a HEAD answer has no body')
  const gone = await uncached.inject({ url: '/games/2/replay', method: 'HEAD' })
  t.equal(gone.statusCode, 404)
  t.equal((await kept.inject({ url: '/games/2/replay', method: 'HEAD' })).statusCode, 404, 'a missing object, kept for the miss time')
  const asGet = await uncached.inject({ url: '/games/2/replay/stream' })
  t.equal(asGet.json().code, 'REPLAY_OBJECT_MISSING', 'the code a GET of the bytes gives too')
  await store.put('g/gone.bin', 'here now')
  t.equal((await kept.inject({ url: '/games/2/replay', method: 'HEAD' })).statusCode, 404, 'within it, still missing')
  t.equal((await uncached.inject({ url: '/games/2/replay', method: 'HEAD' })).headers['content-length'], '8', 'asked again, S3 has it')

  const lines: string[] = []
  const refused = await buildTestApp(t, {
    config: testConfig(),
    db: own,
    storage: store.storage({ credentials: { accessKeyId: 'nobody', secretAccessKey: 'wrong' }, headCache: cache }),
    logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } }
  })
  t.equal((await refused.inject({ method: 'HEAD', url: '/games/1/replay' })).statusCode, 502, 'S3 refused: the contract\'s 502')
  t.match(lines.join(''), /S3 refused HeadObject with 403: with s3:GetObject alone that is how it answers a missing object/, 'the likely cause is logged')
  t.equal((await refused.inject({ method: 'HEAD', url: '/games/1/replay' })).statusCode, 502, 'a refusal is not kept: asked again')
  t.equal(lines.filter((line) => line.includes('S3 refused HeadObject')).length, 2)
  const down = await buildTestApp(t, { config: testConfig(), db: own, storage: store.storage({ s3: { endpoint: `http://127.0.0.1:${await closedPort()}` } }) })
  const unreachable = await down.inject({ method: 'HEAD', url: '/games/1/replay' })
  t.equal(unreachable.statusCode, 502)
  t.equal(unreachable.headers['retry-after'], '5')
  t.equal((await down.inject({ url: '/games/1/replay' })).statusCode, 302, 'while the redirect needs no S3 at all')
})

t.test('with URL reuse, repeated redirects hand out one URL, and the redirect is cached no longer than it works', async (t) => {
  const windowed = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage({ presignTtlSeconds: 300, presignReuseSeconds: 60 }) })
  const first = await windowed.inject({ url: '/games/42/replay' })
  const second = await windowed.inject({ url: '/games/42/replay' })
  const urlAnswer = await windowed.inject({ url: '/games/42/replay/url' })
  const json = urlAnswer.json()
  t.equal(second.headers.location, first.headers.location, 'the same URL')
  t.equal(json.url, first.headers.location, 'the JSON route hands out the same one')
  const left = (Date.parse(json.expiresAt) - Date.now()) / 1000
  t.ok(left > 300 - 60 - 1 && left <= 300, `${left.toFixed(1)} s left, at least TTL - window`)
  const maxAge = Number(/max-age=(\d+)/.exec(String(urlAnswer.headers['cache-control']))?.[1])
  t.ok(maxAge < left, `the JSON's max-age ${maxAge} ends before the URL (${left.toFixed(1)} s)`)
  t.equal((await fetch(json.url)).status, 200)
})

t.test('/replay/url answers the signed URL as JSON', async (t) => {
  // Whole seconds, as the expiry is: signed at the same second or a later one.
  const before = Math.floor(Date.now() / 1000) * 1000
  const res = await app.inject({ url: '/games/42/replay/url' })
  const took = (Date.now() - before) / 1000
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-replay-delivery'], 'redirect')
  const body = res.json()
  t.same(Object.keys(body).sort(), ['encoding', 'expiresAt', 'method', 'streamUrl', 'url'])
  t.equal(body.encoding, 'identity', 'no variant recorded: the replay itself')
  t.equal(body.method, 'GET')
  t.equal(body.streamUrl, '/games/42/replay/stream')
  t.match(body.expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/)
  const expiresIn = (Date.parse(body.expiresAt) - before) / 1000
  t.ok(expiresIn > 298 && expiresIn <= 300 + Math.ceil(took), `expires in the TTL (${expiresIn} s)`)
  const download = await fetch(body.url)
  t.equal(download.status, 200)
  t.equal(sha256(Buffer.from(await download.arrayBuffer())), sha256(replay))
})

t.test('streamUrl: absolute with PUBLIC_BASE_URL, else a path the page resolves against the service', async (t) => {
  t.equal((await app.inject({ url: '/games/42/replay/url' })).json().streamUrl, '/games/42/replay/stream')
  const behindProxy = await buildTestApp(t, { config: testConfig({ publicBaseUrl: 'https://replays.example/api' }), db, storage })
  const body = (await behindProxy.inject({ url: '/games/42/replay/url', headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' } })).json()
  t.equal(body.streamUrl, 'https://replays.example/api/games/42/replay/stream', 'the operator\'s URL, never Host or X-Forwarded-Host')
  t.equal(new URL('/games/42/replay/stream', base).href, `${base}/games/42/replay/stream`, 'a relative one, resolved as docs/http-contract.md shows')
})

t.test('S3 refuses an expired URL and a tampered one', async (t) => {
  const oneSecond = bucket.storage({ presignTtlSeconds: 1 })
  const shortLived = await buildTestApp(t, { config: testConfig(), db, storage: oneSecond })
  const res = await shortLived.inject({ url: '/games/42/replay' })
  t.equal(res.statusCode, 302)
  t.equal((await shortLived.inject({ url: '/games/42/replay/url' })).headers['cache-control'], 'no-store', 'a URL this short-lived is not cached')
  const location = res.headers.location as string
  t.equal(new URL(location).searchParams.get('X-Amz-Expires'), '61', 'dated a minute early, so valid a minute longer: one second from now')
  // The same URL as that route would have handed out two minutes ago: S3's clock says it has expired.
  const object = { key: 'season-1/game-42/replay.json', contentDisposition: 'attachment; filename="game-42.replay.json"', contentType: 'application/json' }
  const earlier = await oneSecond.urls.presign(object, { now: new Date(Date.now() - 120_000) })
  t.equal((await fetch(earlier.url)).status, 403, 'expired')

  const fresh = (await app.inject({ url: '/games/42/replay' })).headers.location as string
  const url = new URL(fresh)
  const signature = url.searchParams.get('X-Amz-Signature') ?? ''
  url.searchParams.set('X-Amz-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`)
  t.equal((await fetch(url)).status, 403, 'signature changed')
  const otherKey = new URL(fresh)
  otherKey.pathname = otherKey.pathname.replace('game-42/replay.json', 'game-42/replay.jsoN')
  t.equal((await fetch(otherKey)).status, 403, 'key changed')
  const otherDisposition = new URL(fresh)
  otherDisposition.searchParams.set('response-content-disposition', 'inline')
  t.equal((await fetch(otherDisposition)).status, 403, 'response override changed')
  t.equal((await fetch(fresh)).status, 200, 'the untouched URL still works')
})

t.test('the id rule: anything but plain decimal 1..2^53-1 is a 400', async (t) => {
  const bad = ['0', '01', '-1', '+1', 'abc', '1.5', '1e3', '0x10', '9007199254740992', '99999999999999999999',
    '%201', '1%20', '%E2%91%A0', '1%2F2', '١٢', 'x'.repeat(8192), '9'.repeat(8192)]
  for (const id of bad) {
    for (const suffix of ['', '/url']) {
      const res = await app.inject({ url: `/games/${id}/replay${suffix}` })
      const label = `${id.length > 20 ? `${id.slice(0, 8)}… (${id.length} chars)` : id}${suffix}`
      t.equal(res.statusCode, 400, label)
      t.same(res.json(), {
        statusCode: 400,
        code: 'INVALID_GAME_ID',
        error: 'Bad Request',
        message: 'A game id is a decimal number from 1 to 9007199254740991, without sign, leading zeros or spaces'
      }, label)
    }
  }
  const head = await app.inject({ method: 'HEAD', url: '/games/1e3/replay' })
  t.equal(head.statusCode, 400)
  t.equal(head.body, '', 'a HEAD answer has no body')
  t.equal((await app.inject({ url: '/games/%34%32/replay' })).statusCode, 302, 'percent-decoded digits are a valid id')
  for (const url of ['/games/%zz/replay', '/games/%/replay/url', '/games/%E0%A4%A/replay']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 400, url)
    t.equal(res.json().code, 'INVALID_GAME_ID', `${url}: malformed percent-encoding is a bad id too`)
  }
  const elsewhere = await app.inject({ url: '/%zz' })
  t.same(elsewhere.json(), { statusCode: 400, code: 'FST_ERR_BAD_URL', error: 'Bad Request', message: 'The request URL is not valid' },
    'a malformed URL elsewhere is a 400 with a stable code, not echoed back')
})

t.test('each 4xx and 5xx of the table, as JSON with its code', async (t) => {
  const cases: Array<[string, number, string]> = [
    ['/games/7/replay', 404, 'GAME_NOT_FOUND'],
    ['/games/7/replay/url', 404, 'GAME_NOT_FOUND'],
    ['/games/43/replay', 404, 'REPLAY_NOT_AVAILABLE'],
    ['/games/43/replay/url', 404, 'REPLAY_NOT_AVAILABLE'],
    ['/games/45/replay', 500, 'INVALID_REPLAY_KEY'],
    ['/games/45/replay/url', 500, 'INVALID_REPLAY_KEY'],
    ['/games/42/replay/', 404, 'ROUTE_NOT_FOUND'],
    ['/nothing-here', 404, 'ROUTE_NOT_FOUND']
  ]
  for (const [url, status, code] of cases) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, status, url)
    t.match(res.headers['content-type'], /^application\/json/, url)
    const body = res.json()
    t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], url)
    t.equal(body.code, code, url)
    t.equal(body.statusCode, status, url)
  }
  const long = await app.inject({ url: `/${'a'.repeat(5000)}` })
  t.equal(long.json().message, `No route GET /${'a'.repeat(199)}…`, 'a long path is not echoed back whole')
  const post = await app.inject({ method: 'POST', url: '/games/42/replay' })
  t.equal(post.statusCode, 404)
  t.equal(post.json().code, 'ROUTE_NOT_FOUND')
  const head = await app.inject({ method: 'HEAD', url: '/games/7/replay' })
  t.equal(head.statusCode, 404)
  t.equal(head.body, '')
})

t.test('an unsafe key is logged and never signed', async (t) => {
  const lines: string[] = []
  const logged = await buildTestApp(t, {
    config: testConfig(),
    db,
    storage,
    logger: { level: 'error', stream: { write: (line: string) => { lines.push(line) } } }
  })
  const res = await logged.inject({ url: '/games/45/replay' })
  t.equal(res.statusCode, 500)
  t.notOk(res.headers.location)
  t.notMatch(res.body, /other-tenant|X-Amz/, 'the body does not reveal the stored name')
  const entry = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'refusing to sign an unsafe replay key')
  t.match(entry, { gameId: '45', gameFolder: '../other-tenant', reason: /"\.\." segment/ })
})

t.test('a game whose object is missing still redirects: S3 answers the 404', async (t) => {
  const res = await fetch(`${base}/games/44/replay`)
  t.equal(res.status, 404)
})

t.test('CORS: the 302 carries Access-Control-Allow-Origin for an allowed origin only', async (t) => {
  const cors = await buildTestApp(t, { config: testConfig({ corsOrigins: ['http://allowed.test:8080'] }), db, storage })
  const allowed = await cors.inject({ url: '/games/42/replay', headers: { origin: 'http://allowed.test:8080' } })
  t.equal(allowed.statusCode, 302)
  t.equal(allowed.headers['access-control-allow-origin'], 'http://allowed.test:8080')
  t.match(allowed.headers.vary, /Origin/)
  t.match(allowed.headers['access-control-expose-headers'], /X-Replay-Delivery/)
  t.equal(allowed.headers.vary, 'Origin, Accept-Encoding', 'each header once, not once per layer')
  const other = await cors.inject({ url: '/games/42/replay', headers: { origin: 'http://evil.test' } })
  t.equal(other.statusCode, 302)
  t.same(Object.keys(other.headers).filter((name) => name.startsWith('access-control-')), [], 'another origin: no CORS header at all')
  t.equal(other.headers.vary, 'Origin, Accept-Encoding')
  const error = await cors.inject({ url: '/games/7/replay', headers: { origin: 'http://allowed.test:8080' } })
  t.equal(error.headers['access-control-allow-origin'], 'http://allowed.test:8080', 'errors are readable by the page too')
  const preflight = await cors.inject({
    method: 'OPTIONS',
    url: '/games/42/replay',
    headers: { origin: 'http://allowed.test:8080', 'access-control-request-method': 'GET' }
  })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-origin'], 'http://allowed.test:8080')

  const wildcard = await buildTestApp(t, { config: testConfig({ corsOrigins: '*' }), db, storage })
  const any = await wildcard.inject({ url: '/games/42/replay', headers: { origin: 'null' } })
  t.equal(any.headers['access-control-allow-origin'], '*')
  t.match(any.headers['access-control-expose-headers'], /X-Request-Id/)
  t.equal(any.headers.vary, 'Accept-Encoding', 'one answer for every origin: Vary names no Origin')
  t.notOk((await app.inject({ url: '/games/42/replay', headers: { origin: 'http://allowed.test:8080' } })).headers['access-control-allow-origin'],
    'no CORS headers at all when CORS_ORIGINS is unset')
})
