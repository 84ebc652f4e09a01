// A platform's own games: a table or view under other names, in another
// schema, with text ids or one key column. The check names what is wrong;
// the repository reads each as it reads the service's own table.
import { sql } from 'kysely'
import t from 'tap'
import { GamesRepository } from '../../src/db/games.js'
import { checkGamesTable, DEFAULT_GAMES_TABLE, type GamesTableConfig } from '../../src/db/games-table.js'
import { openTestDatabase, uniqueName } from '../helper.js'

const db = await openTestDatabase(t)
await sql`create table matches (match_id bigint primary key, folder text, replay_name text, match_uuid uuid, "Season" int4)`.execute(db)
await sql`insert into matches (match_id, folder, replay_name) values
  (42, 'platform', '2024/05/match-42.json'), (43, 'platform', null), (44, null, 'x.json'), (9007199254740991, 'platform', 'last.json')`.execute(db)
await sql`create schema platform`.execute(db)
await sql`create view platform.games_v as select match_id, folder, replay_name from matches`.execute(db)
await sql`create table text_games (code varchar(40) primary key, object_key text)`.execute(db)
await sql`insert into text_games values ('42', 'replays/2024/05/match-42.json'), ('042', 'zero.json'), ('abc', 'abc.json'), ('7', null), ('99999999999999999', 'huge.json')`.execute(db)
await sql`create table small_ids (id int4 primary key, dir char(8), file varchar)`.execute(db)
await sql`insert into small_ids values (5, 'small', 'r.json')`.execute(db)

const matches: GamesTableConfig = { table: 'matches', id: 'match_id', replay: { folder: 'folder', file: 'replay_name' } }
const view: GamesTableConfig = { ...matches, table: 'platform.games_v' }
const textIds: GamesTableConfig = { table: 'public.text_games', id: 'code', replay: { key: 'object_key' } }
const smallIds: GamesTableConfig = { table: 'small_ids', id: 'id', replay: { folder: 'dir', file: 'file' } }

t.test('the check: a table, a view in another schema, text ids, the service\'s own', async (t) => {
  t.same(await checkGamesTable(db, matches), { ok: true, idKind: 'integer', relation: 'public.matches' })
  t.same(await checkGamesTable(db, view), { ok: true, idKind: 'integer', relation: 'platform.games_v' })
  t.same(await checkGamesTable(db, textIds), { ok: true, idKind: 'text', relation: 'public.text_games' })
  t.same(await checkGamesTable(db, smallIds), { ok: true, idKind: 'integer', relation: 'public.small_ids' })
  t.same(await checkGamesTable(db, DEFAULT_GAMES_TABLE), { ok: true, idKind: 'integer', relation: 'public.games' })
})

t.test('the check names the table or column that is wrong, and why', async (t) => {
  const problems = async (config: GamesTableConfig): Promise<unknown> => await checkGamesTable(db, config)
  t.same(await problems({ ...matches, table: 'public.matchs' }), { ok: false, problems: ['GAMES_TABLE public.matchs does not exist'] })
  t.same(await problems({ ...matches, table: 'nowhere.matches' }), { ok: false, problems: ['GAMES_TABLE nowhere.matches does not exist'] }, 'a schema that does not exist')
  t.same(await problems({ ...matches, table: 'Matches' }), { ok: false, problems: ['GAMES_TABLE Matches does not exist'] }, 'names are case-sensitive')
  await sql`create sequence match_numbers`.execute(db)
  t.same(await problems({ ...matches, table: 'match_numbers' }), { ok: false, problems: ['GAMES_TABLE match_numbers is not a table or view'] })
  t.same(await problems({ ...matches, id: 'match_uuid' }), { ok: false, problems: ['GAME_ID_COLUMN match_uuid on public.matches is uuid; expected an integer or text column'] })
  t.same(await problems({ ...matches, replay: { folder: 'folder', file: 'replay_nam' } }), { ok: false, problems: ['REPLAY_FILE_COLUMN replay_nam on public.matches does not exist'] })
  t.same(await problems({ ...view, id: 'season', replay: { folder: 'match_id', file: 'replay_name' } }), {
    ok: false,
    problems: ['GAME_ID_COLUMN season on platform.games_v does not exist', 'GAME_FOLDER_COLUMN match_id on platform.games_v is bigint; expected a text column (text, varchar or char)']
  }, 'every problem at once')
  t.same(await problems({ ...matches, id: 'season' }), { ok: false, problems: ['GAME_ID_COLUMN season on public.matches does not exist (there is Season: names are case-sensitive)'] })
  t.same(await problems({ ...matches, replay: { key: 'match_uuid' } }), { ok: false, problems: ['REPLAY_KEY_COLUMN match_uuid on public.matches is uuid; expected a text column (text, varchar or char)'] })
})

t.test('the check: a column this role may not read', async (t) => {
  // Roles belong to the whole server: a name of this run's own.
  const role = uniqueName('games_reader').replaceAll('-', '_')
  await sql`create role ${sql.id(role)}`.execute(db)
  await sql`grant usage on schema platform to ${sql.id(role)}`.execute(db)
  await sql`grant select (match_id, folder) on platform.games_v to ${sql.id(role)}`.execute(db)
  t.teardown(async () => {
    await sql`reset role`.execute(db)
    await sql`drop owned by ${sql.id(role)}`.execute(db)
    await sql`drop role ${sql.id(role)}`.execute(db)
  })
  // One connection on PostgreSQL, so that the role holds for the check.
  await db.connection().execute(async (connection) => {
    await sql`set role ${sql.id(role)}`.execute(connection)
    t.same(await checkGamesTable(connection, view), { ok: false, problems: ['REPLAY_FILE_COLUMN replay_name on platform.games_v may not be read by this role (it needs SELECT)'] })
    await sql`reset role`.execute(connection)
  })
})

t.test('a platform\'s table: integer ids, a file name with sub-folders, a null folder', async (t) => {
  for (const config of [matches, view]) {
    const games = new GamesRepository(db, config)
    t.same(await games.findReplay('42'), { game_folder: 'platform', replay_file: '2024/05/match-42.json' }, config.table)
    t.same(await games.findReplay('43'), { game_folder: 'platform', replay_file: null })
    t.same(await games.findReplay('44'), { game_folder: null, replay_file: 'x.json' })
    t.same(await games.findReplay('9007199254740991'), { game_folder: 'platform', replay_file: 'last.json' })
    t.equal(await games.findReplay('45'), undefined)
    t.same(await games.findReplayWithVariants('42'), { game_folder: 'platform', replay_file: '2024/05/match-42.json', variants: [] })
  }
})

t.test('an int4 id column: an id past its range is no game, not an error', async (t) => {
  const games = new GamesRepository(db, smallIds)
  t.same(await games.findReplay('5'), { game_folder: 'small', replay_file: 'r.json' }, 'a char folder loses its padding')
  t.equal(await games.findReplay('9007199254740991'), undefined)
  t.same((await games.replaysToCompress(['gzip'], { ids: ['5', '9007199254740991'], limit: 10 })).map((game) => game.id), ['5'])
})

t.test('a numeric id column compares as an integer one', async (t) => {
  await sql`create table numeric_ids (id numeric(20, 0), k text)`.execute(db)
  await sql`insert into numeric_ids values (12, 'n/12.json'), (9007199254740992, 'past.json')`.execute(db)
  const games = new GamesRepository(db, { table: 'numeric_ids', id: 'id', replay: { key: 'k' } })
  t.same(await games.check(), { ok: true, idKind: 'integer', relation: 'public.numeric_ids' })
  t.same(await games.findReplay('12'), { replay_key: 'n/12.json' })
  t.same(await games.replaysToCompress(['gzip'], { limit: 10 }), [{ id: '12', replay_key: 'n/12.json', has: [] }], 'not the id past 2^53 - 1')
})

t.test('text ids compare as text; one key column holds the whole key', async (t) => {
  const games = new GamesRepository(db, textIds)
  t.same(await games.findReplay('42'), { replay_key: 'replays/2024/05/match-42.json' })
  t.same(await games.findReplay('7'), { replay_key: null })
  t.equal(await games.findReplay('42 '), undefined)
  await games.recordVariant({ gameId: '42', encoding: 'gzip', key: 'k', size: 10, identityKey: 'replays/2024/05/match-42.json', identitySize: 100, identityEtag: undefined, identitySha256: '0'.repeat(64) })
  t.same(await games.findReplayWithVariants('42'), {
    replay_key: 'replays/2024/05/match-42.json',
    variants: [{ encoding: 'gzip', key: 'k', size: 10, identityKey: 'replays/2024/05/match-42.json', identitySize: 100 }]
  })
  t.same(await games.replaysToCompress(['gzip', 'br'], { limit: 10 }), [{ id: '42', replay_key: 'replays/2024/05/match-42.json', has: ['gzip'] }],
    'only ids the contract can ask for: not 042, abc or one past 2^53 - 1')
  t.same(await games.replaysToCompress(['gzip'], { limit: 10 }), [])
  t.same(await games.replaysToCompress(['gzip', 'br'], { afterId: '42', limit: 10 }), [])
  t.same(await games.replaysToCompress(['gzip', 'br'], { ids: ['42', '042'], limit: 10 }).then((rows) => rows.map((row) => row.id)), ['42'])
})

t.test('a platform\'s table is only read: the seeds\' writes are refused', async (t) => {
  const games = new GamesRepository(db, matches)
  await t.rejects(games.insert([{ id: '50', game_folder: 'f', replay_file: 'r' }]), { message: /matches is a platform's table, which the service only reads/ })
  await t.rejects(games.insertSeries(1, { folder: () => sql`'f'`, file: () => sql`'r'` }), { message: /only reads/ })
  t.same((await sql`select count(*)::int as n from matches`.execute(db)).rows, [{ n: 4 }])
})

t.test('how ids compare is decided once: a lookup before any check makes it, a changed column is a problem', async (t) => {
  const own = await openTestDatabase(t)
  await sql`create table later (id int8, k text)`.execute(own)
  await sql`insert into later values (1, 'a.json')`.execute(own)
  const games = new GamesRepository(own, { table: 'later', id: 'id', replay: { key: 'k' } })
  const [a, b] = await Promise.all([games.findReplay('1'), games.findReplay('1')])
  t.same([a, b], [{ replay_key: 'a.json' }, { replay_key: 'a.json' }], 'two lookups at once, one check')
  await sql`alter table later alter column id type text`.execute(own)
  t.same(await games.check(), { ok: false, problems: ['GAME_ID_COLUMN id on public.later is now a text column, and this instance compares ids as integer: restart it'] })
  await t.rejects(games.probe(5000), { name: 'GamesTableError', message: /restart it/ })
  await sql`alter table later alter column id type int8 using id::int8`.execute(own)
  t.same(await games.check(), { ok: true, idKind: 'integer', relation: 'public.later' }, 'back as it was')

  const missing = new GamesRepository(own, { table: 'later', id: 'nope', replay: { key: 'k' } })
  await t.rejects(missing.findReplay('1'), { name: 'GamesTableError', message: 'GAME_ID_COLUMN nope on public.later does not exist' })
  await t.rejects(missing.findReplay('1'), { name: 'GamesTableError' }, 'asked again on the next lookup, not kept')

  const text = new GamesRepository(own, { table: 'text_later', id: 'id', replay: { key: 'k' } })
  await sql`create table text_later (id text, k text)`.execute(own)
  t.same(await text.check(), { ok: true, idKind: 'text', relation: 'public.text_later' })
  await sql`alter table text_later alter column id type int8 using id::int8`.execute(own)
  t.match(await text.check(), { ok: false, problems: [/is now an integer column, and this instance compares ids as text/] })
})
