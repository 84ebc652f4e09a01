// The games repository: every query the service makes on the games table.
import { sql } from 'kysely'
import t from 'tap'
import { GAMES_TABLE, GamesRepository } from '../../src/db/games.js'
import { openTestDatabase } from '../helper.js'

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
  t.equal(GAMES_TABLE.table, 'games')
  const unmigrated = new GamesRepository(db.withSchema('no_such_schema'))
  await t.rejects(unmigrated.probe(5000), /no_such_schema/, 'a missing table')
  // A database that takes the query and never answers (a stand-in: a real one would keep its connection checked out).
  const silent = { selectFrom: () => ({ select: () => ({ limit: () => ({ execute: async () => await new Promise(() => {}) }) }) }) }
  const started = performance.now()
  await t.rejects(new GamesRepository(silent as never).probe(200), { message: 'no answer within 200 ms' })
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
