// One Database type for both backends: PostgreSQL over `pg`, or PGlite
// (PostgreSQL compiled to WASM) for zero-setup runs.
import { Kysely, PostgresDialect, type Selectable } from 'kysely'
import { resolve } from 'node:path'
import pg from 'pg'

export interface GamesTable {
  /** bigint in PostgreSQL; `pg` hands bigints back as strings, so it is typed as one. */
  id: string
  game_folder: string
  replay_file: string | null
}

export interface Database {
  games: GamesTable
}

export type Game = Selectable<GamesTable>

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

export async function connectPGlite (dataDir: string | undefined): Promise<Kysely<Database>> {
  // Loaded on demand: PGlite's WASM is only needed in local mode and tests.
  const { PGlite } = await import('@electric-sql/pglite')
  const { PGliteDialect } = await import('kysely-pglite-dialect')
  const pglite = await PGlite.create(dataDir)
  return new Kysely<Database>({ dialect: new PGliteDialect(pglite) })
}
