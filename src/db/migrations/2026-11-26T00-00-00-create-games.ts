// Frozen once released: later changes go into a new migration.
import type { Kysely } from 'kysely'

export async function up (db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('games')
    .addColumn('id', 'bigint', (col) => col.primaryKey())
    .addColumn('game_folder', 'text', (col) => col.notNull())
    .addColumn('replay_file', 'text')
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('games').execute()
}
