// The database settings: where it is, how long it may take, how many
// connections it gets, and the lookup cache in front of it.
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
}

export function readDatabase (read: Reader): DatabaseSettings {
  return {
    databaseUrl: read.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    databaseTimeoutMs: read.integer('DATABASE_TIMEOUT_MS', 3000, 100, 60_000),
    // pg's own default; a cached game needs no connection, so the pool serves the misses and /readyz.
    databasePoolSize: read.integer('DATABASE_POOL_SIZE', 10, 1, 1000),
    lookupCache: {
      size: read.integer('LOOKUP_CACHE_SIZE', 10_000, 0, 10_000_000),
      ttlSeconds: read.integer('LOOKUP_CACHE_TTL_SECONDS', 300, 1, 86_400),
      missTtlSeconds: read.integer('LOOKUP_CACHE_MISS_SECONDS', 2, 0, 3600)
    }
  }
}

/** Where local mode keeps its data (PGlite's folder and the emulator's bucket files). */
export function readLocalDataDir (read: Reader): string {
  return read.string('LOCAL_DATA_DIR') ?? '.replay-gate'
}
