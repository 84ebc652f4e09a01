// PostgreSQL going away and coming back, on a throwaway cluster this test makes
// (initdb as the postgres user), never the machine's shared server.
import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { connectPostgres } from '../../src/db/database.js'
import { migrateToLatest } from '../../src/db/migrate.js'
import { buildTestApp, listen, openTestBucket, requireRealPart, testConfig, type Tap } from '../helper.js'
import { closedPort } from '../support/silent-server.js'
import { waitUntil } from '../support/wait.js'

const run = promisify(execFile)
const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort() : []
const bin = versions.length > 0 ? `/usr/lib/postgresql/${versions.at(-1) as string}/bin` : undefined

const missing = requireRealPart(t, 'the database fault test', bin === undefined || !existsSync(join(bin, 'initdb'))
  ? 'PostgreSQL\'s server binaries (/usr/lib/postgresql/*/bin/initdb) are not installed'
  : process.getuid?.() !== 0 ? 'starting a throwaway cluster as the postgres user needs root' : undefined)

/** A PostgreSQL cluster of its own, in a temporary folder, on a free port. */
async function throwawayCluster (t: Tap): Promise<{ url: string, stop: () => Promise<void>, start: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'replay-gate-pg-'))
  await chmod(dir, 0o777)
  const data = join(dir, 'data')
  const port = await closedPort()
  const asPostgres = async (command: string, args: string[]) => await run('runuser', ['-u', 'postgres', '--', join(bin as string, command), ...args])
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'])
  const start = async () => { await asPostgres('pg_ctl', ['-D', data, '-w', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']) }
  const stop = async () => { await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']) }
  await start()
  t.teardown(async () => {
    await stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop, start }
}

t.test('PostgreSQL goes away and comes back: cached games are served, others get 503 within seconds, then lookups work again', { skip: missing }, async (t) => {
  const cluster = await throwawayCluster(t)
  const TIMEOUT_MS = 1000
  const db = connectPostgres({ url: cluster.url, timeoutMs: TIMEOUT_MS })
  t.teardown(async () => { await db.destroy() })
  await migrateToLatest(db)
  await db.insertInto('games').values([
    { id: '1', game_folder: 'g1', replay_file: 'r.json' },
    { id: '2', game_folder: 'g2', replay_file: 'r.json' }
  ]).execute()
  const bucket = await openTestBucket(t)
  await bucket.put('g1/r.json', '{"game":1}')
  await bucket.put('g2/r.json', '{"game":2}')
  const app = await buildTestApp(t, { config: testConfig({ databaseTimeoutMs: TIMEOUT_MS }), db, storage: bucket.storage() })
  const base = await listen(app)
  const timed = async (path: string) => {
    const started = Date.now()
    const res = await fetch(`${base}${path}`, { redirect: 'manual' })
    const body = await res.text()
    return { status: res.status, ms: Date.now() - started, body }
  }

  t.equal((await timed('/games/1/replay')).status, 302, 'game 1 looked up, and now cached')
  await cluster.stop()
  const cached = await timed('/games/1/replay')
  t.equal(cached.status, 302, 'database down: the cached game is still served')
  t.equal((await timed('/games/1/replay/stream')).body, '{"game":1}', 'and streamed')
  const uncached = await timed('/games/2/replay')
  t.equal(uncached.status, 503)
  t.match(JSON.parse(uncached.body), { code: 'DATABASE_UNAVAILABLE' })
  t.ok(uncached.ms < 5000, `an uncached game: 503 in ${uncached.ms} ms`)
  t.comment(`database down: cached game 302 in ${cached.ms} ms; uncached game 503 in ${uncached.ms} ms`)
  // A database outage is every instance's: each stays in the balancer, degraded, and serves what it has cached.
  // /readyz answers from the last checks: the next ones see the outage.
  const degraded = await waitUntil(async () => {
    const res = await timed('/readyz')
    return JSON.parse(res.body).status !== 'ready' ? res : undefined
  }, { everyMs: 200 })
  t.equal(degraded?.status, 200, 'and the instance reports itself degraded, not unready: it has games cached')
  // The storage's state is not this test's: under a loaded CI machine its probe (the same 1 s) has timed out too.
  t.match(JSON.parse(degraded?.body ?? '{}'), { status: 'degraded', checks: { database: { state: 'unreachable' } } })

  await cluster.start()
  const back = Date.now()
  const again = await waitUntil(async () => {
    const res = await timed('/games/2/replay')
    return res.status === 302 ? res : undefined
  }, { everyMs: 100 })
  const recovery = Date.now() - back
  t.equal(again?.status, 302, 'the database is back: fresh lookups work, without a restart of the service')
  t.ok(recovery < 10_000, `within ${recovery} ms of its return`)
  t.comment(`database back: the first fresh lookup succeeded ${recovery} ms after pg_ctl start returned`)
  // /readyz answers from the last checks: the next ones see the database back.
  const ready = await waitUntil(async () => {
    const res = await timed('/readyz')
    return JSON.parse(res.body).status === 'ready' ? res : undefined
  }, { everyMs: 200 })
  t.equal(ready?.status, 200)
})
