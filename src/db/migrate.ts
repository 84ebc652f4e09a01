import { Migrator, type Kysely, type MigrationResult } from 'kysely'
import type { Database } from './database.js'
import { migrations } from './migrations/index.js'

function migratorOf (db: Kysely<Database>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'replay_gate_migrations',
    migrationLockTableName: 'replay_gate_migrations_lock'
  })
}

/** The migrations not applied to the database yet, by name (all of them when it was never migrated); changes nothing. */
export async function pendingMigrations (db: Kysely<Database>): Promise<string[]> {
  const known = await migratorOf(db).getMigrations()
  return known.filter((migration) => migration.executedAt === undefined).map((migration) => migration.name)
}

/**
 * Logs a warning when the database lacks migrations: every lookup would fail
 * with a missing table or column. A database that does not answer is left
 * to the readiness check, which says so.
 */
export async function warnIfNotMigrated (db: Kysely<Database>, log: { warn: (details: object, message: string) => void }): Promise<void> {
  const pending = await pendingMigrations(db).catch(() => [])
  if (pending.length === 0) return
  log.warn({ pending }, `the database is not migrated (${pending.length} migration(s) pending): run \`npm run db:migrate\` with this DATABASE_URL, or every lookup fails`)
}

/** Applies every pending migration; throws when one fails (Kysely only reports it). */
export async function migrateToLatest (db: Kysely<Database>): Promise<MigrationResult[]> {
  const migrator = migratorOf(db)
  const { error, results = [] } = await migrator.migrateToLatest()
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')
    // Kysely passes on what the driver threw: always an Error.
    const cause = (error as Error).message
    throw new Error(`migration ${failed?.migrationName ?? '(none started)'} failed: ${cause}`, { cause: error })
  }
  return results
}
