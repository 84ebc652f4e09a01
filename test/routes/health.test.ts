import type { FastifyInstance } from 'fastify'
import { sql, type Kysely, type KyselyPlugin } from 'kysely'
import t, { type Test } from 'tap'
import { connectPostgres, type Database } from '../../src/db/database.js'
import { loggerOptions } from '../../src/observability/logging.js'
import type { ReplayStorage } from '../../src/storage/replay-storage.js'
import { buildTestApp, createPostgresDatabase, MACHINE_POSTGRES, postgresMissing, requireRealPart, seedReplays, testConfig } from '../helper.js'
import { clonePGlite } from '../support/pglite-template.js'
import { closedPort, silentPort } from '../support/silent-server.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'
import { sleep, waitUntil } from '../support/wait.js'

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

t.test('/readyz: 200 ready when the database and S3 serve this instance', async (t) => {
  const app = await buildTestApp(t, { config: testConfig(), db, storage })
  const res = await app.inject({ url: '/readyz' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  t.same(Object.keys(res.json().checks.database), ['state', 'ms'])
  t.match(res.json(), { status: 'ready', checks: { database: { state: 'ok', ms: Number }, storage: { state: 'ok', ms: Number } } })
})

/** The app's readiness and its log, for a database and a storage. */
async function readiness (t: Test, backends: { db?: Kysely<Database>, storage?: ReplayStorage }, config = testConfig({ databaseTimeoutMs: 5000 })): Promise<{ status: number, body: Record<string, unknown>, text: string, log: () => Array<Record<string, unknown>> }> {
  const lines: string[] = []
  const app = await buildTestApp(t, { config, db: backends.db ?? db, storage: backends.storage ?? storage, logger: loggerOptions('info', { write: (line) => lines.push(line) }) })
  const started = Date.now()
  const res = await app.inject({ url: '/readyz' })
  t.ok(Date.now() - started < 5000, 'answers in seconds, not a hang')
  return { status: res.statusCode, body: res.json(), text: res.body, log: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) }
}

t.test('/readyz: S3 out (refused, or no answer in time) is 200 degraded, naming it without details: redirects need no S3 request', async (t) => {
  for (const port of [await closedPort(), await silentPort(t)]) {
    const found = await readiness(t, { storage: bucket.storage({ s3: { endpoint: `http://127.0.0.1:${port}` } }) })
    t.equal(found.status, 200, 'a balancer keeps the instance')
    t.match(found.body, { status: 'degraded', checks: { database: { state: 'ok' }, storage: { state: 'unreachable' } } })
    t.notMatch(found.text, /ECONNREFUSED|127\.0\.0\.1|timeout/i, 'no backend detail in the body')
    t.match(found.log(), [{ level: 40, check: 'storage', state: 'unreachable' }], 'the log says why')
  }
})

t.test('/readyz: the database out and nothing cached (a fresh instance) is 503 unavailable: every lookup would fail', async (t) => {
  for (const port of [await closedPort(), await silentPort(t)]) {
    const dead = connectPostgres({ url: `postgres://someuser:pw@127.0.0.1:${port}/x`, timeoutMs: 500 })
    t.teardown(() => dead.destroy())
    const found = await readiness(t, { db: dead })
    t.equal(found.status, 503, 'no game to serve: the balancer sends its requests elsewhere')
    t.match(found.body, { status: 'unavailable', checks: { database: { state: 'unreachable' }, storage: { state: 'ok' } } })
    t.notMatch(found.text, /ECONNREFUSED|127\.0\.0\.1|someuser|timeout/i, 'no backend detail in the body')
    t.match(found.log(), [{ level: 40, check: 'database', state: 'unreachable', reason: /ECONNREFUSED|no answer within 500 ms|timeout/ }], 'the log says why')
  }
})

t.test('/readyz: what is wrong with this instance is 503 unavailable', async (t) => {
  const wrongKey = await readiness(t, { storage: bucket.storage({ credentials: { ...bucket.credentials, secretAccessKey: 'not-the-secret' } }) })
  t.equal(wrongKey.status, 503, 'a wrong secret key')
  t.match(wrongKey.body, { status: 'unavailable', checks: { database: { state: 'ok' }, storage: { state: 'misconfigured' } } })
  t.notMatch(wrongKey.text, /Signature|AccessKey|403/)
  t.match(wrongKey.log(), [{ check: 'storage', state: 'misconfigured', reason: /^S3 answered 403 / }])

  const noBucket = await readiness(t, { storage: bucket.storage({ s3: { bucket: 'no-such-bucket-here' } }) })
  t.equal(noBucket.status, 503, 'a bucket that does not exist')
  t.match(noBucket.body, { checks: { storage: { state: 'misconfigured' } } })

  // A database that was never migrated: every lookup would fail with "relation games does not exist".
  const unmigrated = await clonePGlite()
  t.teardown(() => unmigrated.destroy())
  await unmigrated.schema.dropTable('games').execute()
  const noTable = await readiness(t, { db: unmigrated })
  t.equal(noTable.status, 503, 'a missing table')
  t.match(noTable.body, { status: 'unavailable', checks: { database: { state: 'misconfigured' }, storage: { state: 'ok' } } })
  t.notMatch(noTable.text, /relation|games/)
  t.match(noTable.log(), [{ check: 'database', state: 'misconfigured', reason: 'GAMES_TABLE games does not exist: is the database migrated? Run `npm run db:migrate` with this DATABASE_URL' }])

  // A platform's table under the settings, its id column of a type the service cannot compare.
  await sql`create table matches (match_id uuid, folder text, replay_name text)`.execute(unmigrated)
  const gamesTable = { table: 'matches', id: 'match_id', replay: { folder: 'folder', file: 'replay_name' } }
  const wrongType = await readiness(t, { db: unmigrated }, testConfig({ databaseTimeoutMs: 5000, gamesTable }))
  t.equal(wrongType.status, 503, 'a column of the wrong type')
  t.match(wrongType.body, { status: 'unavailable', checks: { database: { state: 'misconfigured' }, storage: { state: 'ok' } } })
  t.notMatch(wrongType.text, /match|uuid/)
  t.match(wrongType.log(), [{ check: 'database', state: 'misconfigured', reason: 'GAME_ID_COLUMN match_id on public.matches is uuid; expected an integer or text column' }])
})

/**
 * With `proxy` hanging: a probe that finds the last result stale starts a
 * check that hangs, and answers at once with that result; once the check's
 * timeout (2 s here) ends it, probes report the hang. Returns that answer.
 */
async function probeThroughHang (t: Test, app: FastifyInstance, proxy: TcpProxy, check: 'database' | 'storage'): Promise<{ status: number, body: { status: string, checks: Record<string, { state: string }> } }> {
  await proxy.setMode('hang')
  // Past the age at which a probe starts a new check.
  await sleep(1100)
  const started = performance.now()
  const res = await app.inject({ url: '/readyz' })
  const ms = Math.round(performance.now() - started)
  t.ok(ms < 2000, `answered in ${ms} ms, before the hanging check's 2 s timeout could have ended it`)
  t.equal(res.statusCode, 200)
  t.match(res.json(), { status: 'ready', checks: { [check]: { state: 'ok' } } }, 'the last state: the check has not ended yet')
  t.ok(await waitUntil(() => proxy.open() > 0 ? true : undefined), 'while the check waits on a connection that never answers')
  const later = await waitUntil(async () => {
    const found = await app.inject({ url: '/readyz' })
    return found.json().checks[check].state === 'unreachable' ? found : undefined
  })
  if (later === undefined) throw new Error('the hanging check never timed out')
  return { status: later.statusCode, body: later.json() }
}

t.test('/readyz answers at once from the last state while S3 hangs, and never awaits the check', async (t) => {
  const proxy = await startTcpProxy(t, bucket.s3.endpoint as string)
  const app = await buildTestApp(t, { config: testConfig({ databaseTimeoutMs: 2000 }), db, storage: bucket.storage({ s3: { endpoint: proxy.endpoint } }) })
  t.match((await app.inject({ url: '/readyz' })).json(), { status: 'ready' }, 'the first checks ended before the app was ready')
  const hung = await probeThroughHang(t, app, proxy, 'storage')
  t.equal(hung.status, 200, 'S3 out: the redirects go on')
  t.match(hung.body, { status: 'degraded', checks: { database: { state: 'ok' }, storage: { state: 'unreachable' } } })
})

t.test('a check still hanging when the app closes reports no outage', async (t) => {
  const proxy = await startTcpProxy(t, bucket.s3.endpoint as string)
  const lines: string[] = []
  const app = await buildTestApp(t, { config: testConfig({ databaseTimeoutMs: 1000 }), db, storage: bucket.storage({ s3: { endpoint: proxy.endpoint } }), logger: loggerOptions('info', { write: (line) => lines.push(line) }) })
  await app.ready()
  await proxy.setMode('hang')
  await sleep(1100)
  await app.inject({ url: '/readyz' })
  t.ok(await waitUntil(() => proxy.open() > 0 ? true : undefined), 'a check waits on S3')
  await app.close()
  // Past the check's timeout: it has ended by now.
  await sleep(1500)
  t.same(lines.filter((line) => line.includes('readiness:')), [], 'the closing is not taken for S3 going away')
})

const postgres = await postgresMissing(MACHINE_POSTGRES)
const skip = requireRealPart(t, 'the wrong-role readiness test', postgres)

t.test('/readyz while the database hangs: answers at once; degraded with games cached, 503 on a fresh instance', { skip }, async (t) => {
  const { url, db: seeding } = await createPostgresDatabase(t, MACHINE_POSTGRES)
  await seeding.insertInto('games').values({ id: '7', game_folder: 'g7', replay_file: 'r.json' }).execute()
  const proxy = await startTcpProxy(t, url)
  const proxied = new URL(url)
  proxied.port = String(proxy.port)
  const connect = (): Kysely<Database> => {
    const through = connectPostgres({ url: proxied.href, timeoutMs: 2000 })
    t.teardown(() => through.destroy())
    return through
  }
  const config = testConfig({ databaseTimeoutMs: 2000 })
  const serving = await buildTestApp(t, { config, db: connect(), storage })
  t.equal((await serving.inject({ url: '/games/7/replay' })).statusCode, 302, 'game 7 looked up, and now cached')

  const hung = await probeThroughHang(t, serving, proxy, 'database')
  t.equal(hung.status, 200, 'it serves its cached games: the balancer keeps it')
  t.match(hung.body, { status: 'degraded', checks: { database: { state: 'unreachable' }, storage: { state: 'ok' } } })
  t.equal((await serving.inject({ url: '/games/7/replay' })).statusCode, 302, 'and does serve them')

  const fresh = await buildTestApp(t, { config, db: connect(), storage })
  const res = await fresh.inject({ url: '/readyz' })
  t.equal(res.statusCode, 503, 'nothing cached: it could serve nothing')
  t.match(res.json(), { status: 'unavailable', checks: { database: { state: 'unreachable' }, storage: { state: 'ok' } } })
})

t.test('/readyz: a role the database does not know is 503 unavailable', { skip }, async (t) => {
  const url = new URL(MACHINE_POSTGRES)
  url.username = 'no_such_role_here'
  const stranger = connectPostgres({ url: url.href, timeoutMs: 2000 })
  t.teardown(() => stranger.destroy())
  const found = await readiness(t, { db: stranger })
  t.equal(found.status, 503)
  t.match(found.body, { checks: { database: { state: 'misconfigured' } } })
  t.notMatch(found.text, /no_such_role_here/)
  t.match(found.log(), [{ check: 'database', reason: /no_such_role_here.*\(SQLSTATE 28/ }])
})

t.test('/readyz: a flood of probes makes one check a second; a change is logged once', async (t) => {
  let queries = 0
  const plugin: KyselyPlugin = { transformQuery: (args) => { queries++; return args.node }, transformResult: async (args) => args.result }
  const lines: string[] = []
  const app = await buildTestApp(t, { config: testConfig(), db: db.withPlugin(plugin), storage, logger: loggerOptions('info', { write: (line) => lines.push(line) }) })
  const answers = await Promise.all(Array.from({ length: 50 }, async () => await app.inject({ url: '/readyz' })))
  t.ok(answers.every((res) => res.statusCode === 200))
  t.equal(queries, 2, '50 probes at once: one check (the table looked up, then asked)')
  await waitUntil(async () => { await app.inject({ url: '/readyz' }); return queries === 4 ? true : undefined }, { everyMs: 100 })
  t.equal(queries, 4, 'a second later, checked again')
  t.same(lines.filter((line) => line.includes('readiness:')), [], 'nothing logged while nothing changes')
})

t.test('a lookup while the database is down: 503 DATABASE_UNAVAILABLE within seconds, saying what happened', async (t) => {
  const refusing = await closedPort()
  for (const port of [refusing, await silentPort(t)]) {
    const dead = connectPostgres({ url: `postgres://127.0.0.1:${port}/x`, timeoutMs: 500 })
    t.teardown(() => dead.destroy())
    const app = await buildTestApp(t, { config: testConfig(), db: dead, storage })
    for (const url of ['/games/42/replay', '/games/42/replay/url']) {
      const started = Date.now()
      const res = await app.inject({ url })
      t.equal(res.statusCode, 503, url)
      const message = port === refusing ? 'The game database could not be reached; try again shortly' : 'The game database did not answer in time; try again shortly'
      t.same(res.json(), { statusCode: 503, code: 'DATABASE_UNAVAILABLE', error: 'Service Unavailable', message })
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
