// npm run db:migrate: applies the migrations to DATABASE_URL. With --local,
// to the local-mode database (at LOCAL_DATA_DIR) instead; local mode also
// migrates its own database at every start.
import { loadEnvFile } from '../config/env-file.js'
import { ConfigError, parseDatabaseConfig } from '../config/index.js'
import { setInstead } from '../config/reader.js'
import { localDatabaseDir, openDatabase } from '../db/database.js'
import { migrateToLatest } from '../db/migrate.js'

loadEnvFile()
const local = process.argv.includes('--local')
try {
  // Without DATABASE_URL there is nothing to migrate: a typo must not migrate the hidden local database instead.
  if (!local && (process.env.DATABASE_URL ?? '').trim() === '') {
    throw new Error(`DATABASE_URL is ${process.env.DATABASE_URL === undefined ? 'not set' : 'empty'}${setInstead(process.env, 'DATABASE_URL', new Set())}: it names the PostgreSQL database to migrate ` +
      '(postgres://user:password@host:5432/database). The local mode\'s own database is migrated at its start, or now with --local.')
  }
  const config = parseDatabaseConfig(local ? { ...process.env, DATABASE_URL: undefined } : process.env)
  const { db, close } = await openDatabase(config.databaseUrl !== undefined
    ? { postgres: { url: config.databaseUrl, timeoutMs: config.databaseTimeoutMs * 10 } }
    : { pglite: { dataDir: localDatabaseDir(config.localDataDir) } })
  try {
    // GAMES_TABLE and its columns decide whether the service's own games table is made.
    const results = await migrateToLatest(db, config.gamesTable)
    if (results.length === 0) console.log('Migrations: already up to date.')
    for (const result of results) console.log(`Migration ${result.migrationName}: ${result.status}`)
  } finally {
    await close()
  }
} catch (error) {
  const message = error instanceof ConfigError ? error.message : (error as Error).message
  console.error(`db:migrate failed: ${message}`)
  process.exitCode = 1
}
