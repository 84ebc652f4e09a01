import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { parseConfig } from '../../src/config/index.js'
import { buildTestApp, listen, seedReplays, testConfig } from '../helper.js'
import { rawConnection } from '../support/raw-http.js'
import { waitUntil } from '../support/wait.js'

const { db, bucket } = await seedReplays(t, [
  { id: '1', game_folder: 'g1', replay_file: 'r.json', body: '{"replay":1}' },
  { id: '2', game_folder: 'g2', replay_file: 'big.fafreplay', body: randomBytes(24 * 1024 * 1024) }
])
const storage = bucket.storage()
const app = await buildTestApp(t, { config: testConfig({ corsOrigins: '*' }), db, storage })

t.test('every answer carries headers that keep a browser from framing, running or sniffing it', async (t) => {
  const routes: Array<[string, 'GET' | 'HEAD', number]> = [
    ['/healthz', 'GET', 200], ['/readyz', 'GET', 200], ['/metrics', 'GET', 200], ['/openapi.json', 'GET', 200],
    ['/nowhere', 'GET', 404], ['/games/x/replay', 'GET', 400], ['/games/9/replay', 'GET', 404],
    ['/games/1/replay', 'GET', 302], ['/games/1/replay', 'HEAD', 200], ['/games/1/replay/url', 'GET', 200],
    ['/games/1/replay/stream', 'GET', 200], ['/games/1/replay/stream', 'HEAD', 200]
  ]
  const base = await listen(app)
  for (const [url, method, status] of routes) {
    const res = await fetch(`${base}${url}`, { method, redirect: 'manual' })
    await res.arrayBuffer()
    const name = `${method} ${url}`
    t.equal(res.status, status, name)
    t.equal(res.headers.get('content-security-policy'), "default-src 'none';frame-ancestors 'none'", `${name}: CSP`)
    t.equal(res.headers.get('x-content-type-options'), 'nosniff', `${name}: nosniff`)
    t.equal(res.headers.get('x-frame-options'), 'DENY', `${name}: no framing`)
    t.equal(res.headers.get('referrer-policy'), 'no-referrer', `${name}: no referrer`)
    t.equal(res.headers.get('strict-transport-security'), null, `${name}: HSTS is the TLS proxy's to set`)
    t.equal(res.headers.get('x-powered-by'), null, `${name}: says nothing of the stack`)
    const replayRoute = url.startsWith('/games/')
    t.equal(res.headers.get('cross-origin-resource-policy'), replayRoute ? 'cross-origin' : 'same-site',
      `${name}: ${replayRoute ? 'other sites may use the replay routes, even without CORS' : 'the operator\'s routes stay on their site'}`)
  }
})

async function connections (app: FastifyInstance): Promise<number> {
  return await new Promise((resolve, reject) => { app.server.getConnections((error, count) => { if (error === null) resolve(count); else reject(error) }) })
}

t.test('the server bounds headers, request time, idle keep-alive and silent connections', async (t) => {
  const limits = { ...parseConfig({}).http, headersTimeoutMs: 400, requestTimeoutMs: 800, keepAliveTimeoutMs: 300, idleTimeoutMs: 1500 }
  const strict = await buildTestApp(t, { config: testConfig({ http: limits, corsOrigins: '*' }), db, storage })
  const base = await listen(strict)
  // Raw connections, to see what the server does with requests that browsers would never send.
  const port = new URL(base).port

  const huge = await fetch(`${base}/healthz`, { headers: { 'x-filler': 'a'.repeat(20_000) } })
  t.equal(huge.status, 431, 'headers past HTTP_MAX_HEADER_BYTES: 431')
  t.same(await huge.json(), { statusCode: 431, code: 'HEADERS_TOO_LARGE', error: 'Request Header Fields Too Large', message: 'The request line and headers are too large' },
    'with the contract\'s JSON, though no route saw it')

  const garbled = await rawConnection(port)
  garbled.socket.write('GET /healthz HTTP/1.1\r\nHost x\r\n\r\n')
  await garbled.closed
  t.match(garbled.received(), /^HTTP\/1\.1 400 Bad Request\r\n/, 'a request Node cannot parse: 400')
  t.same(JSON.parse(garbled.received().split('\r\n\r\n')[1] as string), { statusCode: 400, code: 'MALFORMED_REQUEST', error: 'Bad Request', message: 'The request is not well-formed HTTP' })

  const silent = await rawConnection(port)
  const silentFor = await silent.closed
  t.ok(silentFor < 5000, `a connection that never sends a request is closed (${silentFor} ms)`)

  const slow = await rawConnection(port)
  slow.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n') // and never the end of the headers
  const slowFor = await slow.closed
  t.match(slow.received(), /^HTTP\/1\.1 408/, 'headers that never end: 408')
  t.match(slow.received(), /"code":"REQUEST_TIMEOUT"/)
  t.ok(slowFor < 5000, `then closed (${slowFor} ms)`)

  const crowd = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const connection = await rawConnection(port)
    if (i % 2 === 0) connection.socket.write('GET /games/1/replay HTTP/1.1\r\nHost: x\r\n')
    return connection
  }))
  const crowdFor = Math.max(...await Promise.all(crowd.map(async (c) => await c.closed)))
  t.ok(crowdFor < 5000, `200 connections that never finish their headers are all closed (the last after ${crowdFor} ms)`)
  t.equal(await connections(strict), 0, 'none is left open')

  const idle = await rawConnection(port)
  idle.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
  const idleFor = await idle.closed
  t.match(idle.received(), /^HTTP\/1\.1 200/, 'a kept-alive request is answered')
  t.ok(idleFor < 5000, `and the idle connection is closed after HTTP_KEEP_ALIVE_TIMEOUT_MS (${idleFor} ms)`)

  // No route reads a body; one still has to arrive within HTTP_REQUEST_TIMEOUT_MS with the rest of the request.
  const dribble = await rawConnection(port)
  dribble.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n')
  const dribbling = setInterval(() => { dribble.socket.write('a') }, 50)
  const dribbleFor = await dribble.closed
  clearInterval(dribbling)
  t.ok(dribbleFor < 5000, `a body sent a byte at a time is cut off (${dribbleFor} ms)`)

  // A download whose client stops reading: once nothing moves for HTTP_IDLE_TIMEOUT_MS, the
  // connection (and with it the S3 request) is closed rather than held forever.
  const stalled = await rawConnection(port)
  stalled.socket.write('GET /games/2/replay/stream HTTP/1.1\r\nHost: x\r\n\r\n')
  stalled.socket.once('data', () => { stalled.socket.pause() }) // and reads nothing more
  const pausedAt = Date.now()
  // A paused client does not see the close; the server's count of connections does.
  await waitUntil(async () => await connections(strict) === 0 ? true : undefined, { timeoutMs: 15_000, everyMs: 50 })
  const stalledFor = Date.now() - pausedAt
  t.ok(stalledFor >= 1500 && stalledFor < 15_000, `a stalled download is cut once nothing has moved for the idle timeout (${stalledFor} ms)`)
  stalled.socket.resume()
  await stalled.closed
  t.match(stalled.received(), /^HTTP\/1\.1 200/, 'the download had started')
  t.ok(stalled.received().length < 24 * 1024 * 1024, 'and ends short, with a broken connection')
})
