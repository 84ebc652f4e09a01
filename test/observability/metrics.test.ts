import { get } from 'node:http'
import t from 'tap'
import { readFileSync } from 'node:fs'
import { openPostgres } from '../../src/db/database.js'
import { Metrics } from '../../src/observability/metrics.js'
import { buildTestApp, listen, MACHINE_POSTGRES, postgresMissing, requireRealPart, seedReplays, testConfig } from '../helper.js'
import { closedPort } from '../support/silent-server.js'
import { waitUntil } from '../support/wait.js'

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

/** The value of one series in Prometheus' text format; 0 when it is not there yet. */
function value (text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

t.test('/metrics: the counters move with downloads, labelled by route pattern', async (t) => {
  const replay = Buffer.alloc(3 * 1024 * 1024, 7)
  const { db, bucket } = await seedReplays(t, [
    { id: '1', game_folder: 'g1', replay_file: 'one.rep', body: replay },
    { id: '2', game_folder: 'g2', replay_file: 'gone.rep' },
    // Large enough that socket buffers cannot take it all before the client leaves.
    { id: '3', game_folder: 'g3', replay_file: 'big.rep', body: Buffer.alloc(48 * 1024 * 1024, 3) }
  ])
  const metrics = new Metrics()
  const app = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage({ onRequest: metrics.observeS3Request }), metrics })
  const base = await listen(app)
  const scrape = async (): Promise<string> => {
    const res = await fetch(`${base}/metrics`)
    t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
    return await res.text()
  }

  const before = await scrape()
  for (let i = 0; i < 3; i++) t.equal((await fetch(`${base}/games/1/replay`, { redirect: 'manual' })).status, 302)
  for (let i = 0; i < 2; i++) {
    // Read whole: a body left unread would hold its answer open.
    const whole = await fetch(`${base}/games/1/replay/stream`)
    t.equal(whole.status, 200)
    await whole.arrayBuffer()
  }
  t.equal((await fetch(`${base}/games/2/replay/stream`)).status, 404)
  t.equal((await fetch(`${base}/games/abc/replay`)).status, 400)
  t.equal((await fetch(`${base}/no/such/route/12345`)).status, 404)
  // A client that leaves in the middle.
  await new Promise<void>((resolve) => {
    get(`${base}/games/3/replay/stream`, (res) => {
      res.once('data', () => { res.destroy(); resolve() })
    })
  })
  // The service counts the download the client left once it sees the socket close:
  // as an aborted stream, and its request among the /stream 200s.
  const streamed = 'replay_gate_http_request_duration_seconds_count{route="/games/:gameId/replay/stream",method="GET",status="200"}'
  const aborted = 'replay_gate_streams_total{outcome="aborted"}'
  await waitUntil(async () => {
    const text = await (await fetch(`${base}/metrics`)).text()
    return value(text, aborted) > value(before, aborted) && value(text, streamed) - value(before, streamed) >= 2 ? true : undefined
  })
  const after = await scrape()

  const count = (series: string): number => value(after, series) - value(before, series)
  t.equal(count('replay_gate_http_request_duration_seconds_count{route="/games/:gameId/replay",method="GET",status="302"}'), 3)
  t.equal(count(streamed), 2, 'the download the client left is counted with the aborted streams')
  t.equal(count('replay_gate_http_request_duration_seconds_count{route="/games/:gameId/replay/stream",method="GET",status="404"}'), 1)
  t.equal(count('replay_gate_http_request_duration_seconds_count{route="/games/:gameId/replay",method="GET",status="400"}'), 1)
  t.equal(count('replay_gate_http_request_duration_seconds_count{route="unmatched",method="GET",status="404"}'), 1, 'no raw URL as a label')
  t.notMatch(after, /no\/such\/route/)
  t.equal(count('replay_gate_presign_duration_seconds_count{method="GET"}'), 3)
  t.equal(count('replay_gate_lookups_total{source="database"}'), 3, 'the first lookup of each game')
  t.equal(count('replay_gate_lookups_total{source="cache"}'), 4)
  t.ok(count('replay_gate_stream_bytes_total') >= replay.length, 'bytes streamed')
  t.equal(count('replay_gate_streams_total{outcome="complete"}'), 2)
  t.equal(count(aborted), 1)
  t.equal(count('replay_gate_s3_errors_total{kind="missing"}'), 1)
  t.match(after, /^process_resident_memory_bytes \d+/m, 'the process\'s own metrics, under their stock names')
  t.match(after, /^nodejs_heap_size_used_bytes \d+/m)
  t.notMatch(after, /replay_gate_(process|nodejs)_/)
  // Two whole streams and the one the client left got their headers from S3; the missing object did not.
  t.equal(count('replay_gate_s3_request_duration_seconds_count{operation="GetObject",outcome="ok"}'), 3)
  t.equal(count('replay_gate_s3_request_duration_seconds_count{operation="GetObject",outcome="error"}'), 1)
  t.notMatch(after, /operation="(?!GetObject")/, 'the redirects signed URLs without a request to S3')
  t.match(after, new RegExp(`^replay_gate_build_info\\{version="${version}",node="${process.version}"\\} 1$`, 'm'))
  t.notMatch(after, /replay_gate_db_pool/, 'no pool, no pool gauges (PGlite)')
})

t.test('S3 errors by kind: refused, and an HTTP status', async (t) => {
  // Nothing uploaded: these storages never reach the object.
  const { db, bucket } = await seedReplays(t, [{ id: '1', game_folder: 'g1', replay_file: 'one.rep' }])
  const metrics = new Metrics({ processMetrics: false })
  const down = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage({ s3: { endpoint: `http://127.0.0.1:${await closedPort()}` } }), metrics })
  t.equal((await down.inject({ url: '/games/1/replay/stream' })).statusCode, 502)
  t.equal((await down.inject({ method: 'HEAD', url: '/games/1/replay/stream' })).statusCode, 502)
  const stranger = await buildTestApp(t, {
    config: testConfig(), db, storage: bucket.storage({ credentials: { accessKeyId: 'nobody', secretAccessKey: 'wrong' } }), metrics
  })
  t.equal((await stranger.inject({ url: '/games/1/replay/stream' })).statusCode, 502)
  const text = await metrics.registry.metrics()
  t.equal(value(text, 'replay_gate_s3_errors_total{kind="network"}'), 2)
  t.equal(value(text, 'replay_gate_s3_errors_total{kind="403"}'), 1)
  // Left out of these storages: what is measured depends on the storage, not the app.
  t.notMatch(text, /replay_gate_s3_request_duration_seconds_count/)
  t.notMatch(text, /process_resident_memory/, 'process metrics can be left out')
})

t.test('S3 requests that fail are timed as errors, by operation', async (t) => {
  const { db, bucket } = await seedReplays(t, [{ id: '1', game_folder: 'g1', replay_file: 'one.rep' }])
  const metrics = new Metrics({ processMetrics: false })
  const storage = bucket.storage({ s3: { endpoint: `http://127.0.0.1:${await closedPort()}` }, onRequest: metrics.observeS3Request })
  const app = await buildTestApp(t, { config: testConfig(), db, storage, metrics })
  t.equal((await app.inject({ url: '/games/1/replay/stream' })).statusCode, 502)
  t.equal((await app.inject({ method: 'HEAD', url: '/games/1/replay' })).statusCode, 502)
  const text = await metrics.registry.metrics()
  t.ok(value(text, 'replay_gate_s3_request_duration_seconds_count{operation="GetObject",outcome="error"}') >= 1, 'a refused connection (each attempt counts)')
  t.ok(value(text, 'replay_gate_s3_request_duration_seconds_count{operation="HeadObject",outcome="error"}') >= 1)
  t.equal(value(text, 'replay_gate_s3_request_duration_seconds_count{operation="GetObject",outcome="ok"}'), 0)
})

t.test('the database pool: connections in use and idle, and queries waiting, read at each scrape', async (t) => {
  if (requireRealPart(t, 'PostgreSQL for the pool gauges', await postgresMissing(MACHINE_POSTGRES)) !== false) return
  const { db, pool } = openPostgres({ url: MACHINE_POSTGRES, timeoutMs: 5000, maxConnections: 1 })
  t.teardown(async () => { await db.destroy() })
  const metrics = new Metrics({ processMetrics: false })
  metrics.observePool(pool)
  const gauges = async (): Promise<number[]> => {
    const text = await metrics.registry.metrics()
    return ['replay_gate_db_pool_connections{state="in_use"}', 'replay_gate_db_pool_connections{state="idle"}', 'replay_gate_db_pool_waiting_requests']
      .map((series) => value(text, series))
  }
  t.same(await gauges(), [0, 0, 0], 'nothing opened yet')
  const held = await pool.connect()
  const queued = db.selectNoFrom((eb) => eb.val(1).as('one')).execute()
  await waitUntil(() => pool.waitingCount === 1 ? true : undefined)
  t.same(await gauges(), [1, 0, 1], 'the only connection is held: the query waits')
  held.release()
  await queued
  t.same(await gauges(), [0, 1, 0], 'back in the pool')
  metrics.observePool(pool)
  t.match(await metrics.registry.metrics(), /replay_gate_db_pool_waiting_requests 0/, 'observed again: the gauges are not made twice')
})
