// Frozen once released: later changes go into a new migration.
// The compressed variants of replays that the service has made and verified.
// No foreign key to the games: a platform may keep its games in a table of
// its own, which the service only reads.
import { sql, type Kysely } from 'kysely'

export async function up (db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('replay_variants')
    .addColumn('game_id', 'bigint', (col) => col.notNull())
    .addColumn('encoding', 'text', (col) => col.notNull().check(sql`encoding in ('gzip', 'br', 'zstd')`))
    .addColumn('object_key', 'text', (col) => col.notNull())
    .addColumn('size', 'bigint', (col) => col.notNull().check(sql`size > 0`))
    .addColumn('identity_key', 'text', (col) => col.notNull())
    .addColumn('identity_size', 'bigint', (col) => col.notNull())
    .addColumn('identity_etag', 'text')
    .addColumn('identity_sha256', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('replay_variants_pkey', ['game_id', 'encoding'])
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('replay_variants').execute()
}
