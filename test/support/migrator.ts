// A Migrator over the service's migrations and its bookkeeping tables, for the
// tests that move a database to a given migration (or undo them all).
import { Migrator, type Kysely } from 'kysely'
import type { Database } from '../../src/db/database.js'
import { migrations } from '../../src/db/migrations/index.js'

export function migratorOf (db: Kysely<Database>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'replay_gate_migrations',
    migrationLockTableName: 'replay_gate_migrations_lock'
  })
}
