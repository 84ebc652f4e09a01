import { Migrator, type Kysely, type MigrationResult } from 'kysely'
import type { Database } from './database.js'
import { migrations } from './migrations/index.js'

/** Applies every pending migration; throws when one fails (Kysely only reports it). */
export async function migrateToLatest (db: Kysely<Database>): Promise<MigrationResult[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'replay_gate_migrations',
    migrationLockTableName: 'replay_gate_migrations_lock'
  })
  const { error, results = [] } = await migrator.migrateToLatest()
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')
    // Kysely passes on what the driver threw: always an Error.
    const cause = (error as Error).message
    throw new Error(`migration ${failed?.migrationName ?? '(none started)'} failed: ${cause}`, { cause: error })
  }
  return results
}
