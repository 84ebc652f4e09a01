import t from 'tap'
import { connectPostgres } from '../../src/db/database.js'
import { buildTestApp, seedReplays, testConfig } from '../helper.js'
import { closedPort, silentPort } from '../support/silent-server.js'

// Game 5 is there for the failing signer to be asked about; no test needs its object.
const { db, bucket } = await seedReplays(t, [{ id: '5', game_folder: 'g', replay_file: 'r.json' }])
const storage = bucket.storage()

t.test('/healthz answers without touching the backends', async (t) => {
  const dead = connectPostgres({ url: `postgres://127.0.0.1:${await closedPort()}/x`, timeoutMs: 500 })
  t.teardown(() => dead.destroy())
  const app = await buildTestApp(t, { config: testConfig(), db: dead, storage })
  const res = await app.inject({ url: '/healthz' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
})

t.test('/readyz: 200 with each check when the database and S3 answer', async (t) => {
  const app = await buildTestApp(t, { config: testConfig(), db, storage })
  const res = await app.inject({ url: '/readyz' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  t.match(res.json(), { status: 'ready', checks: { database: { ok: true, ms: Number }, storage: { ok: true, ms: Number, status: Number } } })
})

t.test('/readyz: 503 within seconds when the database does not answer', async (t) => {
  for (const port of [await closedPort(), await silentPort(t)]) {
    const dead = connectPostgres({ url: `postgres://127.0.0.1:${port}/x`, timeoutMs: 500 })
    t.teardown(() => dead.destroy())
    const app = await buildTestApp(t, { config: testConfig({ databaseTimeoutMs: 500 }), db: dead, storage })
    const started = Date.now()
    const res = await app.inject({ url: '/readyz' })
    t.equal(res.statusCode, 503)
    t.match(res.json(), { status: 'unavailable', checks: { database: { ok: false, error: String }, storage: { ok: true } } })
    t.ok(Date.now() - started < 5000, 'answers in seconds, not a hang')
  }
})

t.test('/readyz gives up on a database query after its own short timeout', async (t) => {
  const hung = connectPostgres({ url: `postgres://127.0.0.1:${await silentPort(t)}/x`, timeoutMs: 3000 })
  t.teardown(() => hung.destroy())
  const app = await buildTestApp(t, { config: testConfig({ databaseTimeoutMs: 300 }), db: hung, storage })
  const res = await app.inject({ url: '/readyz' })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { checks: { database: { ok: false, error: 'no answer in time' } } })
})

t.test('/readyz: 503 when S3 gives no HTTP answer at all', async (t) => {
  for (const port of [await closedPort(), await silentPort(t)]) {
    const unreachable = bucket.storage({ s3: { endpoint: `http://127.0.0.1:${port}` } })
    const app = await buildTestApp(t, { config: testConfig({ databaseTimeoutMs: 500 }), db, storage: unreachable })
    const res = await app.inject({ url: '/readyz' })
    t.equal(res.statusCode, 503)
    t.match(res.json(), { status: 'unavailable', checks: { database: { ok: true }, storage: { ok: false, error: String } } })
  }
})

t.test('a lookup while the database is down: 503 DATABASE_UNAVAILABLE within seconds', async (t) => {
  for (const port of [await closedPort(), await silentPort(t)]) {
    const dead = connectPostgres({ url: `postgres://127.0.0.1:${port}/x`, timeoutMs: 500 })
    t.teardown(() => dead.destroy())
    const app = await buildTestApp(t, { config: testConfig(), db: dead, storage })
    for (const url of ['/games/42/replay', '/games/42/replay/url']) {
      const started = Date.now()
      const res = await app.inject({ url })
      t.equal(res.statusCode, 503, url)
      t.same(res.json(), { statusCode: 503, code: 'DATABASE_UNAVAILABLE', error: 'Service Unavailable', message: 'The game database did not answer in time; try again shortly' })
      t.ok(Date.now() - started < 5000, 'answers in seconds, not a hang')
    }
  }
})

t.test('an unexpected failure is a 500 that reveals nothing', async (t) => {
  const lines: string[] = []
  // A credential provider that fails (an instance role's endpoint, say): the signer cannot sign.
  const broken = bucket.storage({ credentials: async () => { throw new Error('secret internals at /srv/x') } })
  const app = await buildTestApp(t, {
    config: testConfig(),
    db,
    storage: broken,
    logger: { level: 'error', stream: { write: (line: string) => { lines.push(line) } } }
  })
  const res = await app.inject({ url: '/games/5/replay' })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, code: 'INTERNAL_ERROR', error: 'Internal Server Error', message: 'Something went wrong on our side' })
  t.match(lines.join(''), /secret internals/, 'the cause is logged for the operator')
})
