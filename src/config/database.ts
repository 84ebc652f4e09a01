// The database settings: where it is, how long it may take, how many
// connections it gets, the table of the games, and the lookup cache in
// front of it.
import { DEFAULT_GAMES_TABLE, identifierProblem, SETTING, type GamesTableConfig, type ReplayColumns } from '../db/games-table.js'
import type { Reader } from './reader.js'

export interface LookupCacheConfig {
  /** Games kept; 0 turns the cache off. */
  size: number
  /** How long a game with a replay is trusted without asking the database again. */
  ttlSeconds: number
  /** The same for a game without replay, or no game at all; 0: never cached. */
  missTtlSeconds: number
}

export interface DatabaseSettings {
  databaseUrl: string | undefined
  databaseTimeoutMs: number
  /** The pg pool's `max`: connections open at once to PostgreSQL (local mode's PGlite has no pool). */
  databasePoolSize: number
  lookupCache: LookupCacheConfig
  /** The table (or view) of the games and its columns: the service's own `games` unless set. */
  gamesTable: GamesTableConfig
}

export function readDatabase (read: Reader): DatabaseSettings {
  return {
    databaseUrl: read.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    databaseTimeoutMs: read.integer('DATABASE_TIMEOUT_MS', 3000, 100, 60_000),
    // pg's own default; a cached game needs no connection, so the pool serves the misses and /readyz.
    databasePoolSize: read.integer('DATABASE_POOL_SIZE', 10, 1, 1000),
    gamesTable: readGamesTable(read),
    lookupCache: {
      size: read.integer('LOOKUP_CACHE_SIZE', 10_000, 0, 10_000_000),
      ttlSeconds: read.integer('LOOKUP_CACHE_TTL_SECONDS', 300, 1, 86_400),
      missTtlSeconds: read.integer('LOOKUP_CACHE_MISS_SECONDS', 2, 0, 3600)
    }
  }
}

/**
 * GAMES_TABLE and its columns. The replay is either a folder and a file
 * column or one key column; a mix of the two, or half of the first, is
 * refused rather than guessed at.
 */
function readGamesTable (read: Reader): GamesTableConfig {
  const checked = (setting: string, value: string | undefined, fallback: string, qualified = false): string => {
    if (value === undefined) return fallback
    const problem = identifierProblem(setting, value, { qualified })
    if (problem === undefined) return value
    read.problem(setting, problem)
    return fallback
  }
  const defaults = DEFAULT_GAMES_TABLE.replay as Extract<ReplayColumns, { folder: string }>
  const table = checked(SETTING.table, read.string('GAMES_TABLE'), DEFAULT_GAMES_TABLE.table, true)
  const id = checked(SETTING.id, read.string('GAME_ID_COLUMN'), DEFAULT_GAMES_TABLE.id)
  const folderSet = read.string('GAME_FOLDER_COLUMN')
  const fileSet = read.string('REPLAY_FILE_COLUMN')
  const keySet = read.string('REPLAY_KEY_COLUMN')
  const folder = checked(SETTING.folder, folderSet, defaults.folder)
  const file = checked(SETTING.file, fileSet, defaults.file)
  if (keySet !== undefined) {
    const key = checked(SETTING.key, keySet, '')
    if (folderSet !== undefined || fileSet !== undefined) {
      const others = [folderSet !== undefined && SETTING.folder, fileSet !== undefined && SETTING.file].filter(Boolean).join(' and ')
      read.problem(SETTING.key, `${SETTING.key} is set, and so is ${others}: the replay is either one key column or a folder and a file column; unset one of the two forms`)
    }
    return { table, id, replay: { key } }
  }
  if ((folderSet === undefined) !== (fileSet === undefined)) {
    const [given, missing] = folderSet !== undefined ? [SETTING.folder, SETTING.file] : [SETTING.file, SETTING.folder]
    read.problem(missing, `${missing} is not set, but ${given} is: set both (the key is folder + "/" + file), or ${SETTING.key} alone for a column that holds the whole key`)
  }
  return { table, id, replay: { folder, file } }
}

/** Where local mode keeps its data (PGlite's folder and the emulator's bucket files). */
export function readLocalDataDir (read: Reader): string {
  return read.string('LOCAL_DATA_DIR') ?? '.replay-gate'
}
