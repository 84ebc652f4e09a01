import { readdir } from 'node:fs/promises'
import { Migrator, NO_MIGRATIONS, sql, type Kysely } from 'kysely'
import t from 'tap'
import { connectPostgres, type Database } from '../../src/db/database.js'
import { GamesRepository } from '../../src/db/games.js'
import { migrateToLatest, pendingMigrations, warnIfNotMigrated } from '../../src/db/migrate.js'
import { migrations } from '../../src/db/migrations/index.js'
import { openTestDatabase } from '../helper.js'
import { clonePGlite } from '../support/pglite-template.js'
import { closedPort } from '../support/silent-server.js'
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

function migratorOf (db: Kysely<Database>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'replay_gate_migrations',
    migrationLockTableName: 'replay_gate_migrations_lock'
  })
}

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

t.test('a database not migrated, or only in part, is said at start with what to run', async (t) => {
  const db = await migratedTemplate()
  const said: Array<{ details: object, message: string }> = []
  const log = { warn: (details: object, message: string) => { said.push({ details, message }) } }
  t.same(await pendingMigrations(db), [], 'the template is migrated')
  await warnIfNotMigrated(db, log)
  t.same(said, [], 'nothing to say')

  t.equal((await migratorOf(db).migrateTo(NO_MIGRATIONS)).error, undefined)
  await db.schema.dropTable('replay_gate_migrations').execute()
  t.same(await pendingMigrations(db), Object.keys(migrations), 'never migrated: no migrations table, every migration pending')
  await warnIfNotMigrated(db, log)
  t.match(said, [{ details: { pending: Object.keys(migrations) }, message: /^the database is not migrated \(2 migration\(s\) pending\): run `npm run db:migrate` with this DATABASE_URL/ }])

  // The games table made by hand, the rest never: the lookups' variants table is missing.
  const [first] = Object.keys(migrations)
  t.equal((await migratorOf(db).migrateTo(first as string)).error, undefined)
  t.same(await pendingMigrations(db), Object.keys(migrations).slice(1), 'only the later ones')
  await t.rejects(new GamesRepository(db).probe(5000), { code: '42P01' }, 'readiness asks as the lookups do: the variants table too')
  await migrateToLatest(db)
  await new GamesRepository(db).probe(5000)
})

t.test('a database that does not answer: no warning at start (readiness says it)', async (t) => {
  const said: string[] = []
  const dead = connectPostgres({ url: `postgres://127.0.0.1:${await closedPort()}/x`, timeoutMs: 500 })
  t.teardown(() => dead.destroy())
  await warnIfNotMigrated(dead, { warn: (_details, message) => { said.push(message) } })
  t.same(said, [])
})

t.test('a failing migration is an error that names it', async (t) => {
  const db = await migratedTemplate()
  t.same(await migrateToLatest(db), [], 'migrated, as the template is')
  t.equal((await migratorOf(db).migrateTo(NO_MIGRATIONS)).error, undefined, 'back to an empty schema')
  await db.schema.createTable('games').addColumn('id', 'integer').execute()
  await t.rejects(migrateToLatest(db), { message: /^migration 2026-11-26T00-00-00-create-games failed: .*already exists/ })
  await db.schema.dropTable('games').execute()
  await migrateToLatest(db)
})

t.test('npm run db:migrate applies the migrations, once', async (t) => {
  const dataDir = await localDataDir(t, { database: false })
  const first = spawnEntry('cli/db-migrate.ts', { LOCAL_DATA_DIR: dataDir }, ['--local'])
  t.equal((await first.exited).code, 0)
  t.match(first.stdout(), /Migration 2026-11-26T00-00-00-create-games: Success/)
  const second = spawnEntry('cli/db-migrate.ts', { LOCAL_DATA_DIR: dataDir }, ['--local'])
  t.equal((await second.exited).code, 0)
  t.match(second.stdout(), /already up to date/)
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
