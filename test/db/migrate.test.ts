import { readdir } from 'node:fs/promises'
import { NO_MIGRATIONS, sql, type Kysely } from 'kysely'
import t, { type Test } from 'tap'
import { localDatabaseDir, openDatabase, type Database } from '../../src/db/database.js'
import { GamesRepository } from '../../src/db/games.js'
import { migrateToLatest } from '../../src/db/migrate.js'
import { migrations } from '../../src/db/migrations/index.js'
import { openTestDatabase } from '../helper.js'
import { migratorOf } from '../support/migrator.js'
import { clonePGlite } from '../support/pglite-template.js'
import { localDataDir, spawnEntry } from '../support/spawn-service.js'

t.test('the games table: bigint ids up to 2^53 - 1, a nullable replay file', async (t) => {
  const db = await openTestDatabase(t)
  t.same(await migrateToLatest(db), [], 'a second run has nothing to do')
  await db.insertInto('games').values([
    { id: '9007199254740991', game_folder: 'f', replay_file: 'r.json' },
    { id: '2', game_folder: 'g', replay_file: null }
  ]).execute()
  t.same(await new GamesRepository(db).findReplay('9007199254740991'), { game_folder: 'f', replay_file: 'r.json' })
  t.same(await new GamesRepository(db).findReplay('2'), { game_folder: 'g', replay_file: null })
  t.equal(await new GamesRepository(db).findReplay('3'), undefined)
  await t.rejects(db.insertInto('games').values({ id: '4', game_folder: null as unknown as string, replay_file: null }).execute(),
    'game_folder is required')
})

/**
 * One clone of the template for the two tests below (a PGlite start is
 * seconds of CPU): each leaves it migrated, as it found it.
 */
let template: Promise<Kysely<Database>> | undefined
async function migratedTemplate (): Promise<Kysely<Database>> {
  if (template === undefined) {
    const cloned = clonePGlite()
    template = cloned
    t.teardown(async () => { await (await cloned).destroy() })
  }
  return await template
}

t.test('every migration can be undone', async (t) => {
  const db = await migratedTemplate()
  t.same(await migrateToLatest(db), [], 'the template is migrated')
  const { error, results } = await migratorOf(db).migrateTo(NO_MIGRATIONS)
  t.equal(error, undefined)
  t.same(results?.map((r) => [r.migrationName, r.direction, r.status]), Object.keys(migrations).reverse().map((name) => [name, 'Down', 'Success']),
    'each migration undone, the latest first')
  const { rows } = await sql<{ games: string | null, variants: string | null }>`select to_regclass('games')::text as games, to_regclass('replay_variants')::text as variants`.execute(db)
  t.same(rows, [{ games: null, variants: null }], 'the tables are gone')
  await migrateToLatest(db)
})

/** What of the service's is in a database: its tables, and what kind of relation `games` is. */
async function relations (db: Kysely<Database>): Promise<Record<string, string | null>> {
  const { rows } = await sql<Record<string, string | null>>`select
    (select relkind::text from pg_class where oid = to_regclass('games')) as games,
    to_regclass('replay_variants')::text as variants,
    to_regclass('replay_gate_migrations')::text as migrations,
    to_regclass('replay_gate_migrations_lock')::text as lock`.execute(db)
  return rows[0] as Record<string, string | null>
}

/**
 * A database with nothing of the service in it, as a platform's database is
 * before its first db:migrate: one for the tests below (a PGlite clone is
 * seconds of CPU), emptied for each.
 */
let scratch: Promise<Kysely<Database>> | undefined
async function emptyDatabase (test: Test): Promise<Kysely<Database>> {
  scratch ??= openTestDatabase(t)
  const db = await scratch
  await sql`drop schema public cascade`.execute(db)
  await sql`create schema public`.execute(db)
  await sql`drop schema if exists other_schema cascade`.execute(db)
  test.same(await relations(db), { games: null, variants: null, migrations: null, lock: null }, 'nothing of the service\'s')
  return db
}

const platformGames = async (db: Kysely<Database>): Promise<void> => {
  await sql`create table matches (match_id bigint primary key, folder text, replay_name text)`.execute(db)
  await sql`insert into matches values (42, 'platform', '2024/05/match-42.json')`.execute(db)
}

t.test('a failing migration leaves the database as it was, and the next run after the fix succeeds', async (t) => {
  const db = await emptyDatabase(t)
  // The service's own table name taken by something else: its migration cannot make it.
  await sql`create view replay_variants as select 1 as one`.execute(db)
  await t.rejects(migrateToLatest(db), { message: /^migration 2026-12-06T00-00-00-create-replay-variants failed: .*already exists/ })
  t.same(await relations(db), { games: null, variants: 'replay_variants', migrations: null, lock: null },
    'the games table made before it is gone again, and so are the bookkeeping tables')
  await t.rejects(migrateToLatest(db), { message: /^migration 2026-12-06T00-00-00-create-replay-variants failed: .*already exists/ }, 'a second run fails the same way')
  await sql`drop view replay_variants`.execute(db)
  t.same((await migrateToLatest(db)).map((r) => [r.migrationName, r.status]), Object.keys(migrations).map((name) => [name, 'Success']))
  t.same(await relations(db), { games: 'r', variants: 'replay_variants', migrations: 'replay_gate_migrations', lock: 'replay_gate_migrations_lock' })

  // Bookkeeping that was there before a failing run stays: it records what was applied earlier.
  await migratorOf(db).migrateTo('2026-11-26T00-00-00-create-games')
  await sql`create view replay_variants as select 1 as one`.execute(db)
  await t.rejects(migrateToLatest(db), { message: /already exists/ })
  t.same(await relations(db), { games: 'r', variants: 'replay_variants', migrations: 'replay_gate_migrations', lock: 'replay_gate_migrations_lock' })
})

t.test('a platform\'s view named games: left as it is, the migrations recorded, and read through the settings\' defaults', async (t) => {
  const db = await emptyDatabase(t)
  await platformGames(db)
  await sql`create view games as select match_id as id, folder as game_folder, replay_name as replay_file from matches`.execute(db)
  t.same((await migrateToLatest(db)).map((r) => r.status), ['Success', 'Success'])
  t.same(await relations(db), { games: 'v', variants: 'replay_variants', migrations: 'replay_gate_migrations', lock: 'replay_gate_migrations_lock' }, 'still a view')
  t.same(await migrateToLatest(db), [], 'a second run has nothing to do')
  t.same(await new GamesRepository(db).findReplay('42'), { game_folder: 'platform', replay_file: '2024/05/match-42.json' })
  const { error } = await migratorOf(db).migrateTo(NO_MIGRATIONS)
  t.equal(error, undefined)
  t.same(await relations(db), { games: 'v', variants: null, migrations: 'replay_gate_migrations', lock: 'replay_gate_migrations_lock' },
    'undone, the migrations drop their own table and leave the view')
})

t.test('GAMES_TABLE names a view in another schema: no games table is made', async (t) => {
  const db = await emptyDatabase(t)
  await platformGames(db)
  await sql`create schema other_schema`.execute(db)
  await sql`create view other_schema.matches as select * from public.matches`.execute(db)
  const gamesTable = { table: 'other_schema.matches', id: 'match_id', replay: { folder: 'folder', file: 'replay_name' } }
  t.same((await migrateToLatest(db, gamesTable)).map((r) => r.status), ['Success', 'Success'])
  t.same(await relations(db), { games: null, variants: 'replay_variants', migrations: 'replay_gate_migrations', lock: 'replay_gate_migrations_lock' })
  t.same(await new GamesRepository(db, gamesTable).findReplay('42'), { game_folder: 'platform', replay_file: '2024/05/match-42.json' })
  // Other names on a table called games are a platform's too, even where none exists yet.
  const elsewhere = await emptyDatabase(t)
  await migrateToLatest(elsewhere, { table: 'games', id: 'match_id', replay: { key: 'object_key' } })
  t.equal((await relations(elsewhere)).games, null)
})

t.test('the variants table has no foreign key: the games may be a platform\'s table or view', async (t) => {
  const db = await openTestDatabase(t)
  const { rows } = await sql<{ constraint: string }>`select conname::text as constraint from pg_constraint where conrelid = to_regclass('replay_variants') and contype = 'f'`.execute(db)
  t.same(rows, [])
})

t.test('npm run db:migrate applies the migrations, once', async (t) => {
  // A database initdb made (the first start's part, which the server's tests run), not yet migrated.
  const dataDir = await localDataDir(t, { database: 'unmigrated' })
  const first = spawnEntry('cli/db-migrate.ts', { LOCAL_DATA_DIR: dataDir }, ['--local'])
  t.equal((await first.exited).code, 0)
  t.match(first.stdout(), /Migration 2026-11-26T00-00-00-create-games: Success/)
  const second = spawnEntry('cli/db-migrate.ts', { LOCAL_DATA_DIR: dataDir }, ['--local'])
  t.equal((await second.exited).code, 0)
  t.match(second.stdout(), /already up to date/)
})

t.test('db:migrate reads the games settings: pointed at a platform\'s table, it makes no games table', async (t) => {
  const dataDir = await localDataDir(t, { database: 'unmigrated' })
  const run = spawnEntry('cli/db-migrate.ts', { LOCAL_DATA_DIR: dataDir, GAMES_TABLE: 'platform.matches', GAME_ID_COLUMN: 'match_id' }, ['--local'])
  t.equal((await run.exited).code, 0)
  t.match(run.stdout(), /Migration 2026-11-26T00-00-00-create-games: Success/, 'recorded as applied')
  const { db, close } = await openDatabase({ pglite: { dataDir: localDatabaseDir(dataDir) } })
  t.teardown(close)
  t.same(await relations(db), { games: null, variants: 'replay_variants', migrations: 'replay_gate_migrations', lock: 'replay_gate_migrations_lock' })
})

t.test('db:migrate without DATABASE_URL, or with an empty one, says so and migrates nothing', async (t) => {
  const dataDir = await localDataDir(t, { database: false })
  for (const [env, said] of [[{}, 'not set'], [{ DATABASE_URL: '  ', DATABSE_URL: 'postgres://db/x' }, 'empty \\(DATABSE_URL is set: did you mean DATABASE_URL\\?\\)']] as const) {
    const run = spawnEntry('cli/db-migrate.ts', { LOCAL_DATA_DIR: dataDir, ...env })
    t.equal((await run.exited).code, 1)
    t.match(run.stderr(), new RegExp(`db:migrate failed: DATABASE_URL is ${said}: it names the PostgreSQL database to migrate`))
    t.notMatch(run.stderr(), /S3_BUCKET/, 'nothing about the bucket, which the command does not need')
    t.notMatch(run.stdout(), /Migration|up to date/)
  }
  t.same(await readdir(dataDir), [], 'the local database was not touched')
})

t.test('db:migrate against a database that does not answer fails with a message', async (t) => {
  const run = spawnEntry('cli/db-migrate.ts', { DATABASE_URL: 'postgres://127.0.0.1:1/x', DATABASE_TIMEOUT_MS: '200' })
  t.equal((await run.exited).code, 1)
  t.match(run.stderr(), /db:migrate failed: /)
  const bad = spawnEntry('cli/db-migrate.ts', { DATABASE_URL: 'mysql://x' })
  t.equal((await bad.exited).code, 1)
  t.match(bad.stderr(), /db:migrate failed: Invalid configuration:\n {2}- DATABASE_URL must be/)
})
