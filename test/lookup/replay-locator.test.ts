import type { FastifyBaseLogger } from 'fastify'
import type { Kysely, KyselyPlugin } from 'kysely'
import t from 'tap'
import type { LookupCacheConfig } from '../../src/config/index.js'
import { connectPostgres, type Database } from '../../src/db/database.js'
import { GamesRepository } from '../../src/db/games.js'
import { ReplayLocator } from '../../src/lookup/replay-locator.js'
import { createPostgresDatabase, MACHINE_POSTGRES, openTestDatabase, postgresMissing, requireRealPart, type Tap } from '../helper.js'
import { TestClock } from '../support/clock.js'
import { startTcpProxy } from '../support/tcp-proxy.js'
import { waitUntil } from '../support/wait.js'

const logged: unknown[] = []
const log = { error: (entry: unknown) => { logged.push(entry) }, warn: (entry: unknown) => { logged.push(entry) } } as unknown as FastifyBaseLogger
const cache = (overrides: Partial<LookupCacheConfig> = {}): LookupCacheConfig => ({ size: 100, ttlSeconds: 300, missTtlSeconds: 2, ...overrides })

/**
 * Counts the lookups a database is sent. `games` makes a repository on it
 * whose table is checked first, as the start checks it: that query is not
 * a lookup, and is not counted.
 */
function counted (base: Kysely<Database>): { queries: () => number, games: () => Promise<GamesRepository> } {
  let queries = 0
  const plugin: KyselyPlugin = {
    transformQuery: (args) => { queries++; return args.node },
    transformResult: async (args) => args.result
  }
  const db = base.withPlugin(plugin)
  const games = async (): Promise<GamesRepository> => {
    const repository = new GamesRepository(db)
    const before = queries
    await repository.check()
    queries = before
    return repository
  }
  return { queries: () => queries, games }
}

const GAMES = [
  { id: '1', game_folder: 'g1', replay_file: 'one.rep' },
  { id: '2', game_folder: 'g2', replay_file: null },
  { id: '3', game_folder: 'g3', replay_file: 'three.rep' },
  { id: '4', game_folder: 'g4', replay_file: 'four.rep' }
]

async function seeded (t: Tap, db?: Kysely<Database>): Promise<Kysely<Database>> {
  db ??= await openTestDatabase(t)
  await db.insertInto('games').values(GAMES).execute()
  return db
}

t.test('a recorded replay is looked up once, then served from the cache', async (t) => {
  const base = await seeded(t)
  const { queries, games } = counted(base)
  const locator = new ReplayLocator({ games: await games(), keyPrefix: 'p/', cache: cache() })
  t.match(await locator.locate('1', log), { key: 'p/g1/one.rep' })
  await base.updateTable('games').set({ game_folder: 'moved' }).where('id', '=', '1').execute()
  t.match(await locator.locate('1', log), { key: 'p/g1/one.rep' }, 'within its age the database is not asked')
  t.equal(queries(), 1)

  const together = await Promise.all(Array.from({ length: 20 }, async () => await locator.locate('3', log)))
  t.ok(together.every((found) => found.key === 'p/g3/three.rep'))
  t.equal(queries(), 2, '20 requests at once for an unknown game make one query')
})

t.test('holdsGames: whether a database outage still leaves games to serve (readiness asks it)', async (t) => {
  const db = await seeded(t)
  const clock = new TestClock()
  const locator = new ReplayLocator({ games: new GamesRepository(db), keyPrefix: '', cache: cache({ ttlSeconds: 1 }), clock })
  t.notOk(locator.holdsGames(), 'a fresh instance holds none')
  await t.rejects(locator.locate('99', log), { code: 'GAME_NOT_FOUND' })
  t.notOk(locator.holdsGames(), 'an unknown id is no game to serve')
  await locator.locate('1', log)
  t.ok(locator.holdsGames())
  await clock.advance(5000)
  t.ok(locator.holdsGames(), 'past its age too: an outage is answered with it')
  const uncached = new ReplayLocator({ games: new GamesRepository(db), keyPrefix: '', cache: cache({ size: 0 }) })
  await uncached.locate('1', log)
  t.notOk(uncached.holdsGames(), 'without a cache, none')
})

t.test('a game without replay, or no game, is kept only briefly', async (t) => {
  const base = await seeded(t)
  const { queries, games } = counted(base)
  const clock = new TestClock()
  const locator = new ReplayLocator({ games: await games(), keyPrefix: '', cache: cache({ missTtlSeconds: 1 }), clock })
  await t.rejects(locator.locate('2', log), { code: 'REPLAY_NOT_AVAILABLE' })
  await t.rejects(locator.locate('99', log), { code: 'GAME_NOT_FOUND' })
  await base.updateTable('games').set({ replay_file: 'two.rep' }).where('id', '=', '2').execute()
  await base.insertInto('games').values({ id: '99', game_folder: 'g99', replay_file: 'late.rep' }).execute()
  await t.rejects(locator.locate('2', log), { code: 'REPLAY_NOT_AVAILABLE' }, 'still the cached answer')
  t.equal(queries(), 2)
  await clock.advance(1100)
  t.match(await locator.locate('2', log), { key: 'g2/two.rep' }, 'the new recording is seen once the entry ends, never an old answer')
  t.match(await locator.locate('99', log), { key: 'g99/late.rep' })

  const never = new ReplayLocator({ games: await games(), keyPrefix: '', cache: cache({ missTtlSeconds: 0 }), clock })
  await base.updateTable('games').set({ replay_file: null }).where('id', '=', '4').execute()
  await t.rejects(never.locate('4', log), { code: 'REPLAY_NOT_AVAILABLE' })
  await base.updateTable('games').set({ replay_file: 'four.rep' }).where('id', '=', '4').execute()
  await clock.advance(2) // a miss is kept for 1 ms at least: lru-cache reads a TTL of 0 as forever
  t.match(await never.locate('4', log), { key: 'g4/four.rep' }, 'with LOOKUP_CACHE_MISS_SECONDS=0 a miss is not kept')
})

t.test('the cache is bounded in size; size 0 turns it off', async (t) => {
  const base = await seeded(t)
  const { queries, games } = counted(base)
  const small = new ReplayLocator({ games: await games(), keyPrefix: '', cache: cache({ size: 2 }) })
  for (const id of ['1', '3', '4', '1']) await small.locate(id, log)
  t.equal(queries(), 4, 'the first game was pushed out by two others')

  const { queries: queries2, games: games2 } = counted(base)
  const off = new ReplayLocator({ games: await games2(), keyPrefix: '', cache: cache({ size: 0 }) })
  for (const id of ['1', '1', '1']) await off.locate(id, log)
  t.equal(queries2(), 3)
})

t.test('unknown ids never push a known game out of the cache', async (t) => {
  const base = await seeded(t)
  const { queries, games } = counted(base)
  const locator = new ReplayLocator({ games: await games(), keyPrefix: '', cache: cache({ size: 3, missTtlSeconds: 60 }) })
  for (const id of ['1', '3', '4']) await locator.locate(id, log)
  // Anonymous requests for ids of no game (or of a game without a replay), far more than the cache holds.
  for (let id = 1000; id < 1100; id++) await t.rejects(locator.locate(String(id), log), { code: 'GAME_NOT_FOUND' })
  await t.rejects(locator.locate('2', log), { code: 'REPLAY_NOT_AVAILABLE' })
  const before = queries()
  for (const id of ['1', '3', '4']) await locator.locate(id, log)
  t.equal(queries(), before, 'the three known games are still cached: no query for them')
  await t.rejects(locator.locate('1099', log), { code: 'GAME_NOT_FOUND' })
  t.equal(queries(), before, 'the latest misses are cached too, within their own bound')
  await t.rejects(locator.locate('1000', log), { code: 'GAME_NOT_FOUND' })
  t.equal(queries(), before + 1, 'the oldest miss was pushed out by other misses')
})

t.test('an entry past its age is answered at once and read again in the background', async (t) => {
  const base = await seeded(t)
  const { queries, games } = counted(base)
  const clock = new TestClock()
  const locator = new ReplayLocator({ games: await games(), keyPrefix: '', cache: cache({ ttlSeconds: 1 }), clock })
  await locator.locate('1', log)
  await base.updateTable('games').set({ game_folder: 'moved' }).where('id', '=', '1').execute()
  await clock.advance(1100)
  t.match(await locator.locate('1', log), { key: 'g1/one.rep' }, 'the stale entry, without waiting')
  const fresh = await waitUntil(async () => (await locator.locate('1', log)).key === 'moved/one.rep' ? true : undefined)
  t.equal(fresh, true, 'then the fresh row, read in the background')
  t.equal(queries(), 2, 'one read for the stale entry, none for the answers while it ran')
})

// A real outage: the machine's PostgreSQL behind a TCP relay that stops answering.
const postgres = await postgresMissing(MACHINE_POSTGRES)
const skip = requireRealPart(t, 'the database outage test', postgres)

t.test('while the database is down, cached games are served and others get DATABASE_UNAVAILABLE', { skip }, async (t) => {
  const { url } = await createPostgresDatabase(t, MACHINE_POSTGRES)
  const relayed = new URL(url)
  const proxy = await startTcpProxy(t, `http://${relayed.host}`)
  relayed.host = new URL(proxy.endpoint).host
  const database = connectPostgres({ url: relayed.href, timeoutMs: 1000 })
  t.teardown(async () => { await database.destroy() })
  await seeded(t, database)
  const clock = new TestClock()
  const locator = new ReplayLocator({ games: new GamesRepository(database), keyPrefix: '', cache: cache({ ttlSeconds: 1 }), clock })
  await locator.locate('1', log)
  await proxy.setMode('hang')
  await clock.advance(1100)

  t.match(await locator.locate('1', log), { key: 'g1/one.rep' }, 'a cached game, even past its age')
  const started = Date.now()
  await t.rejects(locator.locate('3', log), { code: 'DATABASE_UNAVAILABLE', statusCode: 503, message: /did not answer in time/, cause: { kind: 'timeout', detail: String } },
    'what happened goes with the error, for the one line the error handler logs')
  t.ok(Date.now() - started < 5000, `a game not cached fails within seconds (${Date.now() - started} ms)`)
  await waitUntil(() => logged.some((entry) => (entry as { gameId?: string }).gameId === '1') ? true : undefined)
  t.match(logged.find((entry) => (entry as { gameId?: string }).gameId === '1'), { gameId: '1', cause: { kind: /^(timeout|unreachable)$/ } }, 'the failed refresh behind the stale answer is logged')
  await clock.advance(1200)
  t.match(await locator.locate('1', log), { key: 'g1/one.rep' }, 'still served after a failed refresh')

  await proxy.setMode('pass')
  const found = await waitUntil(async () => await locator.locate('3', log).catch(() => undefined), { everyMs: 100 })
  t.match(found, { key: 'g3/three.rep' }, 'fresh lookups work again once the database is back')
})
