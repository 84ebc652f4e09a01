// npm run db:migrate: applies the migrations to DATABASE_URL, or to the
// local-mode database when it is not set.
import { ConfigError, parseConfig } from '../config.js'
import { localDatabaseDir } from '../local/local-mode.js'
import { connectPGlite, connectPostgres } from './database.js'
import { migrateToLatest } from './migrate.js'

try {
  // Only the database matters here: a bucket is not needed to migrate.
  const config = parseConfig({ ...process.env, S3_BUCKET: process.env.DATABASE_URL !== undefined ? 'unused-for-migrations' : undefined })
  const db = config.databaseUrl !== undefined
    ? connectPostgres({ url: config.databaseUrl, timeoutMs: config.databaseTimeoutMs * 10 })
    : await connectPGlite(localDatabaseDir(config))
  try {
    const results = await migrateToLatest(db)
    if (results.length === 0) console.log('Migrations: already up to date.')
    for (const result of results) console.log(`Migration ${result.migrationName}: ${result.status}`)
  } finally {
    await db.destroy()
  }
} catch (error) {
  const message = error instanceof ConfigError ? error.message : (error as Error).message
  console.error(`db:migrate failed: ${message}`)
  process.exitCode = 1
}
