// Whether a database has every migration, said at start: a lookup on a
// database never migrated fails on a missing table, and the message that
// says what to run belongs at the start, not at the first request.
import { NO_MIGRATIONS } from 'kysely'
import t from 'tap'
import { connectPostgres } from '../../src/db/database.js'
import { GamesRepository } from '../../src/db/games.js'
import { migrateToLatest, pendingMigrations, warnIfNotMigrated } from '../../src/db/migrate.js'
import { migrations } from '../../src/db/migrations/index.js'
import { openTestDatabase } from '../helper.js'
import { migratorOf } from '../support/migrator.js'
import { closedPort } from '../support/silent-server.js'

t.test('a database not migrated, or only in part, is said at start with what to run', async (t) => {
  const db = await openTestDatabase(t)
  const said: Array<{ details: object, message: string }> = []
  const log = { warn: (details: object, message: string) => { said.push({ details, message }) } }
  t.same(await pendingMigrations(db), [], 'a test database is migrated')
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
