import { Migrator, sql, type Kysely, type MigrationResult } from 'kysely'
import type { Database } from './database.js'
import { DEFAULT_GAMES_TABLE, type GamesTableConfig } from './games-table.js'
import { migrationsFor } from './migrations/index.js'

const MIGRATION_TABLE = 'replay_gate_migrations'
const LOCK_TABLE = 'replay_gate_migrations_lock'

/** `gamesTable`: the settings' table, which decides whether the service's own games table is made (migrations/index.ts). */
function migratorOf (db: Kysely<Database>, gamesTable: GamesTableConfig): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrationsFor(gamesTable) },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: LOCK_TABLE
  })
}

/** The migrations not applied to the database yet, by name (all of them when it was never migrated); changes nothing. */
export async function pendingMigrations (db: Kysely<Database>, gamesTable: GamesTableConfig = DEFAULT_GAMES_TABLE): Promise<string[]> {
  const known = await migratorOf(db, gamesTable).getMigrations()
  return known.filter((migration) => migration.executedAt === undefined).map((migration) => migration.name)
}

/**
 * Logs a warning when the database lacks migrations: every lookup would fail
 * with a missing table or column. A database that does not answer is left
 * to the readiness check, which says so.
 */
export async function warnIfNotMigrated (db: Kysely<Database>, log: { warn: (details: object, message: string) => void }, gamesTable: GamesTableConfig = DEFAULT_GAMES_TABLE): Promise<void> {
  const pending = await pendingMigrations(db, gamesTable).catch(() => [])
  if (pending.length === 0) return
  log.warn({ pending }, `the database is not migrated (${pending.length} migration(s) pending): run \`npm run db:migrate\` with this DATABASE_URL, or every lookup fails`)
}

/**
 * Applies every pending migration; throws when one fails (Kysely only
 * reports it). `gamesTable` as above.
 *
 * Kysely applies the pending migrations in one transaction, so a failing one
 * leaves no table of theirs behind; but it makes its own two bookkeeping
 * tables before that transaction. When this run made them and nothing was
 * applied, they are dropped again: the database is left as it was found.
 */
export async function migrateToLatest (db: Kysely<Database>, gamesTable: GamesTableConfig = DEFAULT_GAMES_TABLE): Promise<MigrationResult[]> {
  const migrator = migratorOf(db, gamesTable)
  // Unknown when the database does not answer: the run below fails then, and has made nothing.
  const bookkept = await relationExists(db, MIGRATION_TABLE).catch(() => undefined)
  const { error, results = [] } = await migrator.migrateToLatest()
  if (error !== undefined) {
    if (bookkept === false) await dropBookkeeping(db)
    const failed = results.find((r) => r.status === 'Error')
    // Kysely passes on what the driver threw: always an Error.
    const cause = (error as Error).message
    throw new Error(`migration ${failed?.migrationName ?? '(none started)'} failed: ${cause}`, { cause: error })
  }
  return results
}

async function relationExists (db: Kysely<Database>, name: string): Promise<boolean> {
  const { rows } = await sql<{ exists: boolean }>`select to_regclass(quote_ident(${name})) is not null as exists`.execute(db)
  return (rows[0] as { exists: boolean }).exists
}

/**
 * The bookkeeping tables, when they record nothing. Locked first: a run
 * beside this one that holds the migration lock longer than Kysely waits
 * for it may be about to record what it applied, and then they stay.
 */
async function dropBookkeeping (db: Kysely<Database>): Promise<void> {
  await sql`do $$
    begin
      if to_regclass('${sql.raw(MIGRATION_TABLE)}') is not null then
        lock table ${sql.raw(MIGRATION_TABLE)} in access exclusive mode;
        if not exists (select 1 from ${sql.raw(MIGRATION_TABLE)}) then
          drop table if exists ${sql.raw(MIGRATION_TABLE)}, ${sql.raw(LOCK_TABLE)};
        end if;
      end if;
    end $$`.execute(db)
}
