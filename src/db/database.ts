// One Database type for both backends: PostgreSQL over `pg`, or PGlite
// (PostgreSQL compiled to WASM) for zero-setup runs.
import { Kysely, PostgresDialect, sql } from 'kysely'
import { resolve } from 'node:path'
import pg from 'pg'
import { GamesRepository } from './games.js'
import { DEFAULT_GAMES_TABLE, type GamesTableConfig } from './games-table.js'
import type { Database } from './schema.js'

export type { Database, Game, GamesTable } from './schema.js'

export interface PostgresOptions {
  url: string
  /** Bounds both getting a connection and each query, so an outage fails fast. */
  timeoutMs: number
  maxConnections?: number
}

/**
 * pg reports a lost connection to the query it ends and, besides, as an
 * 'error' event on the client; the pool listens for it only while a client is
 * idle. A connection lost while a client is checked out or connecting would
 * then end the process: every client gets a listener of its own. The failed
 * query still reports the outage.
 */
class ListenedClient extends pg.Client {
  constructor (config?: string | pg.ClientConfig) {
    super(config)
    this.on('error', function ignoreLostConnection () {})
  }
}

export function connectPostgres (options: PostgresOptions): Kysely<Database> {
  return openPostgres(options).db
}

/** The database and the pool under it, whose counts the metrics read at each scrape. */
export function openPostgres ({ url, timeoutMs, maxConnections = 10 }: PostgresOptions): { db: Kysely<Database>, pool: pg.Pool } {
  const pool = new pg.Pool({
    Client: ListenedClient,
    connectionString: url,
    max: maxConnections,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    application_name: 'replay-gate'
  })
  // An idle client whose server went away emits 'error' on the pool; without a
  // listener that would crash the process. The next query reports the outage.
  pool.on('error', () => {})
  return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), pool }
}

/** Where local mode keeps its database, below LOCAL_DATA_DIR. */
export function localDatabaseDir (localDataDir: string): string {
  return resolve(localDataDir, 'pglite')
}

export interface PGliteOptions {
  /** Where PGlite keeps its files; left out, in memory. */
  dataDir?: string | undefined
  /** A data directory's dump to start from (the tests' migrated template). */
  loadDataDir?: Blob | undefined
}

/**
 * PGlite's shared buffers: initdb's 128 MB are WebAssembly memory that each
 * start sets up, about two fifths of its CPU; local mode's games and the
 * tests' fit in far less.
 */
export const PGLITE_SHARED_BUFFERS = '16MB'

export async function connectPGlite ({ dataDir, loadDataDir }: PGliteOptions = {}): Promise<Kysely<Database>> {
  // Loaded on demand: PGlite's WASM is only needed in local mode and tests.
  const { PGlite } = await import('@electric-sql/pglite')
  const { PGliteDialect } = await import('kysely-pglite-dialect')
  const pglite = await PGlite.create({
    ...(dataDir !== undefined && { dataDir }),
    ...(loadDataDir !== undefined && { loadDataDir }),
    startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`]
  })
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) })
  // The dialect takes hold of PGlite at its first query, and only closes it on destroy() after one:
  // a database nobody queried would keep the process from exiting.
  await sql`select 1`.execute(db)
  return db
}

/** PostgreSQL over `pg` (a configured deployment), or PGlite (local mode, the tests). */
export type DatabaseSource = { postgres: PostgresOptions } | { pglite: PGliteOptions }

export interface GameDatabase {
  db: Kysely<Database>
  /** Every query on the games table. */
  games: GamesRepository
  /** PostgreSQL's pool, whose counts the metrics read; PGlite has none. */
  pool: pg.Pool | undefined
  close: () => Promise<void>
}

/**
 * Opens the game database: the one factory that server.ts, local mode,
 * db:migrate and the tests use. `gamesTable`: where the games are (the
 * settings'); nothing is asked of the database until the first query.
 */
export async function openDatabase (source: { postgres: PostgresOptions }, gamesTable?: GamesTableConfig): Promise<GameDatabase & { pool: pg.Pool }>
export async function openDatabase (source: DatabaseSource, gamesTable?: GamesTableConfig): Promise<GameDatabase>
export async function openDatabase (source: DatabaseSource, gamesTable: GamesTableConfig = DEFAULT_GAMES_TABLE): Promise<GameDatabase> {
  const { db, pool } = 'postgres' in source ? openPostgres(source.postgres) : { db: await connectPGlite(source.pglite), pool: undefined }
  return { db, games: new GamesRepository(db, gamesTable), pool, close: async () => { await db.destroy() } }
}
