// The games repository: every query the service makes on the games table.
import { sql } from 'kysely'
import t from 'tap'
import { GamesRepository } from '../../src/db/games.js'
import { openTestDatabase, uniqueName } from '../helper.js'

const db = await openTestDatabase(t)
const games = new GamesRepository(db)

t.test('games go in, and a lookup finds the replay of each', async (t) => {
  await games.insert([
    { id: '1', game_folder: 'season-1/game-1', replay_file: 'replay.json' },
    { id: '2', game_folder: 'season-1/game-2', replay_file: null }
  ])
  await games.insert([])
  t.same(await games.findReplay('1'), { game_folder: 'season-1/game-1', replay_file: 'replay.json' })
  t.same(await games.findReplay('2'), { game_folder: 'season-1/game-2', replay_file: null })
  t.equal(await games.findReplay('3'), undefined)

  await t.rejects(games.insert([{ id: '1', game_folder: 'elsewhere', replay_file: 'x' }]), 'an id that is there already is refused')
  await games.insert([{ id: '1', game_folder: 'elsewhere', replay_file: 'x' }, { id: '3', game_folder: 'g3', replay_file: 'r' }], { keepExisting: true })
  t.same(await games.findReplay('1'), { game_folder: 'season-1/game-1', replay_file: 'replay.json' }, 'kept as it was')
  t.same(await games.findReplay('3'), { game_folder: 'g3', replay_file: 'r' }, 'the new one added')
})

t.test('a series of games made by the database in one statement', async (t) => {
  const own = new GamesRepository(await openTestDatabase(t))
  await own.insertSeries(1000, { folder: (id) => sql`'season-' || (${id} % 7) || '/game-' || ${id}`, file: (id) => sql`'replay-' || ${id} || '.json'` })
  t.same(await own.findReplay('1000'), { game_folder: 'season-6/game-1000', replay_file: 'replay-1000.json' })
  t.equal(await own.findReplay('1001'), undefined)
})

t.test('the readiness probe answers, refuses with the driver\'s error, or gives up in time', async (t) => {
  await games.probe(5000)
  t.equal(games.table.table, 'games', 'the service\'s own table unless told otherwise')
  const unmigrated = new GamesRepository(db, { ...games.table, table: 'no_such_schema.games' })
  await t.rejects(unmigrated.probe(5000), { name: 'GamesTableError', message: 'GAMES_TABLE no_such_schema.games does not exist' }, 'a missing table')
  // A view whose own table the role may not read: the catalog has it, the query is refused.
  await sql`create table hidden (id bigint, game_folder text, replay_file text)`.execute(db)
  await sql`create view shown as select * from hidden`.execute(db)
  // Roles belong to the whole server: a name of this run's own.
  const role = sql.id(uniqueName('probe_reader').replaceAll('-', '_'))
  await sql`create role ${role}`.execute(db)
  await sql`alter view shown owner to ${role}`.execute(db)
  t.teardown(async () => {
    await sql`drop view shown`.execute(db)
    await sql`drop table hidden`.execute(db)
    await sql`drop role ${role}`.execute(db)
  })
  await t.rejects(new GamesRepository(db, { ...games.table, table: 'shown' }).probe(5000), { code: '42501' }, 'no rights behind the view')
  // A database that takes the query and never answers (a stand-in: a real one would keep its connection checked out).
  class Silent extends GamesRepository {
    override async check (): Promise<never> { return await new Promise(() => {}) }
  }
  const started = performance.now()
  await t.rejects(new Silent(db).probe(200), { message: 'no answer within 200 ms' })
  t.ok(performance.now() - started < 5000)
})

t.test('replays to compress: games with a replay that lack one of the codings asked for, by id', async (t) => {
  const own = new GamesRepository(await openTestDatabase(t))
  await own.insert([
    { id: '1', game_folder: 'g1', replay_file: 'r.json' },
    { id: '2', game_folder: 'g2', replay_file: null },
    { id: '3', game_folder: 'g3', replay_file: 'r.json' },
    { id: '10', game_folder: 'g10', replay_file: 'r.json' }
  ])
  const variant = { key: 'k', size: 10, identityKey: 'g1/r.json', identitySize: 100, identityEtag: undefined, identitySha256: '0'.repeat(64) }
  await own.recordVariant({ ...variant, gameId: '1', encoding: 'gzip' })
  await own.recordVariant({ ...variant, gameId: '3', encoding: 'gzip' })
  await own.recordVariant({ ...variant, gameId: '3', encoding: 'br' })
  t.same(await own.replaysToCompress(['gzip', 'br'], { limit: 10 }), [
    { id: '1', game_folder: 'g1', replay_file: 'r.json', has: ['gzip'] },
    { id: '10', game_folder: 'g10', replay_file: 'r.json', has: [] }
  ], 'in id order (as numbers), without the game that has both or no replay')
  t.same((await own.replaysToCompress(['gzip'], { limit: 10 })).map((game) => game.id), ['10'])
  t.same((await own.replaysToCompress(['gzip', 'br'], { afterId: '1', limit: 10 })).map((game) => game.id), ['10'])
  t.same((await own.replaysToCompress(['gzip', 'br'], { ids: ['3', '10'], limit: 10 })).map((game) => game.id), ['10'])
  t.same(await own.replaysToCompress(['gzip', 'br'], { ids: [], limit: 10 }), [], 'no ids: none')
  await own.recordVariant({ ...variant, gameId: '1', encoding: 'gzip', size: 12 })
  t.equal((await own.findReplayWithVariants('1'))?.variants[0]?.size, 12, 'recorded again: replaced')
})
