// npm run db:migrate: applies the migrations to DATABASE_URL, or to the
// local-mode database when it is not set.
import { ConfigError, parseDatabaseConfig } from '../config/index.js'
import { connectPGlite, connectPostgres } from '../db/database.js'
import { migrateToLatest } from '../db/migrate.js'
import { localDatabaseDir } from '../local/local-mode.js'

try {
  const config = parseDatabaseConfig(process.env)
  const db = config.databaseUrl !== undefined
    ? connectPostgres({ url: config.databaseUrl, timeoutMs: config.databaseTimeoutMs * 10 })
    : await connectPGlite(localDatabaseDir(config.localDataDir))
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
