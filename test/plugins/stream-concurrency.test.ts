// Open /stream answers are limited per client and per instance; a slot is
// freed when its answer ends or its client leaves, on a connection that stays open.
import { Agent, get, type IncomingMessage } from 'node:http'
import t from 'tap'
import { Metrics } from '../../src/observability/metrics.js'
import { buildTestApp, listen, seedReplays, testConfig } from '../helper.js'
import { rawConnection } from '../support/raw-http.js'
import { waitUntil } from '../support/wait.js'

// Larger than what loopback's socket buffers take in: a held download stays unfinished.
const big = Buffer.alloc(64 * 1024 * 1024, 1)
const { db, bucket } = await seedReplays(t, [
  { id: '1', game_folder: 'g', replay_file: 'big.bin', body: big },
  { id: '2', game_folder: 'g', replay_file: 'small.json', body: '{"replay":2}' }
])
const storage = bucket.storage()

/** A download that reads its headers and then nothing, holding its answer open. */
async function held (port: string, headers = ''): Promise<{ status: number, leave: () => Promise<void> }> {
  const connection = await rawConnection(port)
  connection.socket.write(`GET /games/1/replay/stream HTTP/1.1\r\nHost: t\r\n${headers}\r\n`)
  await waitUntil(() => /\r\n\r\n/.test(connection.received()) ? true : undefined)
  connection.socket.pause()
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(connection.received())?.[1])
  return { status, leave: async () => { connection.socket.destroy(); await connection.closed } }
}

t.test('per client: past STREAM_MAX_PER_CLIENT open answers a 429 TOO_MANY_STREAMS; a slot is free again once one ends', async (t) => {
  const metrics = new Metrics({ processMetrics: false })
  const app = await buildTestApp(t, { config: testConfig({ streamConcurrency: { perClient: 2, total: 0 } }), db, storage, metrics })
  const { port } = new URL(await listen(app))
  const first = await held(port)
  const second = await held(port)
  t.same([first.status, second.status], [200, 200])
  const refused = await app.inject({ url: '/games/2/replay/stream' })
  t.equal(refused.statusCode, 429)
  t.same(refused.json(), { statusCode: 429, code: 'TOO_MANY_STREAMS', error: 'Too Many Requests', message: 'This client already has 2 downloads running through the service; try again when one ends, or follow the redirect instead' })
  t.equal(refused.headers['retry-after'], '2')
  t.equal((await app.inject({ url: '/games/2/replay' })).statusCode, 302, 'the redirect is not limited')
  const other = await app.inject({ url: '/games/2/replay/stream', remoteAddress: '10.0.0.9' })
  t.equal(other.statusCode, 200, 'another client has slots of its own')
  await first.leave()
  const again = await waitUntil(async () => { const res = await app.inject({ url: '/games/2/replay/stream' }); return res.statusCode === 200 ? res : undefined })
  t.equal(again?.statusCode, 200, 'the client left: its slot is free')
  t.match(await metrics.registry.metrics(), /replay_gate_rejected_requests_total\{reason="too_many_streams",check=""\} [1-9]/, 'refusals are counted')
  await second.leave()
})

t.test('finished answers free their slot on a connection that stays open (keep-alive), HEAD, 304 and 416 at once', async (t) => {
  const app = await buildTestApp(t, { config: testConfig({ streamConcurrency: { perClient: 1, total: 0 } }), db, storage })
  const base = await listen(app)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => { agent.destroy() })
  const sockets = new Set<unknown>()
  const statuses: number[] = []
  for (const [method, headers] of [['GET', {}], ['GET', { range: 'bytes=0-9' }], ['GET', { range: 'bytes=99999999-' }], ['HEAD', {}], ['GET', {}]] as const) {
    const answer = await new Promise<IncomingMessage>((resolve, reject) => {
      get(`${base}/games/2/replay/stream`, { agent, method, headers }, resolve).on('error', reject)
    })
    sockets.add(answer.socket)
    answer.resume()
    await new Promise((resolve) => answer.on('end', resolve))
    statuses.push(answer.statusCode as number)
  }
  t.same(statuses, [200, 206, 416, 200, 200], 'never a 429')
  t.equal(sockets.size, 1, 'all on one kept-alive connection')
})

t.test('per instance: past STREAM_MAX_TOTAL a 503 SERVICE_OVERLOADED; a proxy without TRUST_PROXY is warned of once', async (t) => {
  const lines: string[] = []
  const app = await buildTestApp(t, {
    config: testConfig({ streamConcurrency: { perClient: 0, total: 1 } }),
    db,
    storage,
    logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } }
  })
  const { port } = new URL(await listen(app))
  const first = await held(port, 'X-Forwarded-For: 203.0.113.7\r\n')
  t.equal(first.status, 200)
  const refused = await app.inject({ url: '/games/2/replay/stream', remoteAddress: '10.0.0.9', headers: { 'x-forwarded-for': '203.0.113.8' } })
  t.equal(refused.statusCode, 503)
  t.equal(refused.json().code, 'SERVICE_OVERLOADED')
  t.equal(refused.headers['retry-after'], '2')
  t.equal(lines.filter((line) => line.includes('TRUST_PROXY is not set')).length, 1, 'one warning, not one per request')
  await first.leave()
})
