// The redirect on a platform's own games, end to end: the settings name a
// table, a view in another schema, a text id column or one key column, and
// each game's 302 points at the object its row names.
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import type { GamesTableConfig } from '../../src/db/games-table.js'
import { buildTestApp, openTestBucket, openTestDatabase, testConfig } from '../helper.js'

const [db, bucket] = await Promise.all([openTestDatabase(t), openTestBucket(t)])
const storage = bucket.storage()
const PREFIX = 'p/'

await sql`create table matches (match_id bigint primary key, folder text, replay_name text)`.execute(db)
await sql`insert into matches values (42, 'platform', '2024/05/match-42.json'), (43, 'platform', null), (44, 'platform', '2024/../../secret.json'), (46, null, 'x.json')`.execute(db)
await sql`create schema platform`.execute(db)
await sql`create view platform.games_v as select match_id as id, folder, replay_name as file from matches`.execute(db)
await sql`create table text_matches (code text primary key, object_key varchar(200))`.execute(db)
await sql`insert into text_matches values ('42', 'keys/2024/05/match-42.json'), ('042', 'keys/zero.json'), ('45', '/abs.json'), ('47', null)`.execute(db)
await sql`insert into games values (7, 'own', 'replay.json')`.execute(db)
await bucket.put(`${PREFIX}platform/2024/05/match-42.json`, '{"match":42}', 'application/json')
await bucket.put(`${PREFIX}keys/2024/05/match-42.json`, '{"key":42}', 'application/json')
await bucket.put(`${PREFIX}own/replay.json`, '{"own":7}', 'application/json')

/** The app on these settings' table; GET /games/:id/replay and where it points. */
async function redirect (t: Test, gamesTable: GamesTableConfig | undefined, id: string): Promise<{ status: number, key?: string, code?: string, body?: string }> {
  const config = testConfig({ s3: { keyPrefix: PREFIX }, ...(gamesTable !== undefined && { gamesTable }) })
  const app = await buildTestApp(t, { config, db, storage })
  const res = await app.inject({ url: `/games/${id}/replay` })
  if (res.statusCode !== 302) return { status: res.statusCode, code: res.json().code }
  const location = new URL(res.headers.location as string)
  const bucketPath = `/${bucket.s3.bucket}/`
  const download = await fetch(location)
  return { status: res.statusCode, key: decodeURIComponent(location.pathname.slice(bucketPath.length)), body: await download.text() }
}

const matches: GamesTableConfig = { table: 'public.matches', id: 'match_id', replay: { folder: 'folder', file: 'replay_name' } }

t.test('a platform\'s table: the file name holds sub-folders', async (t) => {
  t.same(await redirect(t, matches, '42'), { status: 302, key: 'p/platform/2024/05/match-42.json', body: '{"match":42}' })
  t.same(await redirect(t, matches, '43'), { status: 404, code: 'REPLAY_NOT_AVAILABLE' })
  t.same(await redirect(t, matches, '41'), { status: 404, code: 'GAME_NOT_FOUND' })
  t.same(await redirect(t, matches, '44'), { status: 500, code: 'INVALID_REPLAY_KEY' }, 'a ".." in the file name is refused')
  t.same(await redirect(t, matches, '46'), { status: 500, code: 'INVALID_REPLAY_KEY' }, 'a file without a folder is refused')
})

t.test('a view in another schema', async (t) => {
  const view = { table: 'platform.games_v', id: 'id', replay: { folder: 'folder', file: 'file' } }
  t.same(await redirect(t, view, '42'), { status: 302, key: 'p/platform/2024/05/match-42.json', body: '{"match":42}' })
})

t.test('a text id column and one key column holding "/"', async (t) => {
  const textIds = { table: 'text_matches', id: 'code', replay: { key: 'object_key' } }
  t.same(await redirect(t, textIds, '42'), { status: 302, key: 'p/keys/2024/05/match-42.json', body: '{"key":42}' })
  t.same(await redirect(t, textIds, '042'), { status: 400, code: 'INVALID_GAME_ID' }, 'the contract\'s id rule holds before the table is asked')
  t.same(await redirect(t, textIds, '45'), { status: 500, code: 'INVALID_REPLAY_KEY' }, 'a key starting with "/" is refused')
  t.same(await redirect(t, textIds, '47'), { status: 404, code: 'REPLAY_NOT_AVAILABLE' }, 'no key yet')
})

t.test('the service\'s own table, by default', async (t) => {
  t.same(await redirect(t, undefined, '7'), { status: 302, key: 'p/own/replay.json', body: '{"own":7}' })
})

t.test('a column that is missing or of the wrong type: 503, and /readyz says the database is misconfigured', async (t) => {
  for (const gamesTable of [{ ...matches, id: 'match' }, { ...matches, replay: { folder: 'match_id', file: 'replay_name' } }]) {
    t.same(await redirect(t, gamesTable, '42'), { status: 503, code: 'DATABASE_UNAVAILABLE' })
    const app = await buildTestApp(t, { config: testConfig({ gamesTable }), db, storage })
    const ready = await app.inject({ url: '/readyz' })
    t.equal(ready.statusCode, 503)
    t.match(ready.json(), { status: 'unavailable', checks: { database: { state: 'misconfigured' } } })
  }
})
