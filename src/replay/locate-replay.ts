// Game id → replay object: the database lookup, a cache in front of it, the
// key rule and the download name.
//
// A recorded replay does not change, so a game's row is cached (bounded in
// count and age). A stale entry is still answered at once while a fresh read
// runs in the background, and when the database does not answer it keeps being
// served: cached games go on downloading through an outage. A game without a
// replay, or no game at all, is cached only briefly.
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import { LRUCache } from 'lru-cache'
import type { LookupCacheConfig } from '../config/index.js'
import type { Database } from '../db/database.js'
import { findReplay, type ReplayRow } from '../db/games.js'
import { DatabaseUnavailable, GameNotFound, InvalidReplayKey, ReplayNotAvailable } from '../http/errors.js'
import type { LookupSource } from '../observability/metrics.js'
import { inSpan } from '../observability/telemetry.js'
import { downloadHeaders } from './download-name.js'
import { replayKey, type UnsafeReplayKeyError } from './replay-key.js'

/** Where a game's replay is, and what a download of it is called: what the signer and the stream need. */
export interface ReplayObject {
  key: string
  contentDisposition: string
  /** Undefined when the file name says nothing: the type stored with the object stands. */
  contentType: string | undefined
}

export interface ReplayLocatorOptions {
  db: Kysely<Database>
  keyPrefix: string
  cache: LookupCacheConfig
  /** Told where each answer came from. */
  onLookup?: (source: LookupSource) => void
  /** The cache's clock, in milliseconds; tests move one by hand. */
  clock?: { now: () => number }
}

/** What the database said about a game: its row, or that there is none. */
interface Lookup {
  row: ReplayRow | undefined
}

export class ReplayLocator {
  private readonly db: Kysely<Database>
  private readonly keyPrefix: string
  private readonly cache: LRUCache<string, Lookup, FastifyBaseLogger> | undefined
  private readonly onLookup: (source: LookupSource) => void

  constructor ({ db, keyPrefix, cache, onLookup = () => {}, clock = performance }: ReplayLocatorOptions) {
    this.db = db
    this.keyPrefix = keyPrefix
    this.onLookup = onLookup
    if (cache.size > 0) {
      this.cache = new LRUCache<string, Lookup, FastifyBaseLogger>({
        max: cache.size,
        ttl: cache.ttlSeconds * 1000,
        perf: clock,
        // A stale entry is kept when a fresh read fails, and answered instead of the error.
        allowStaleOnFetchRejection: true,
        noDeleteOnFetchRejection: true,
        fetchMethod: async (gameId, _stale, { options, context: log }) => {
          const row = await this.read(gameId, log)
          // A TTL of 0 would mean "forever" here: 1 ms is as good as not caching.
          if (row?.replay_file == null) options.ttl = Math.max(1, cache.missTtlSeconds * 1000)
          return { row }
        }
      })
    }
  }

  /** The replay object of a game, or the contract's error for why there is none. */
  async locate (gameId: string, log: FastifyBaseLogger): Promise<ReplayObject> {
    const { row } = await inSpan('replay.lookup', { 'replay.game_id': gameId }, async () => await this.lookup(gameId, log))
    if (row === undefined) throw new GameNotFound(gameId)
    if (row.replay_file === null) throw new ReplayNotAvailable(gameId)
    let key: string
    try {
      key = replayKey(this.keyPrefix, row.game_folder, row.replay_file)
    } catch (error) {
      // replayKey throws nothing but UnsafeReplayKeyError.
      const { reason } = error as UnsafeReplayKeyError
      log.error({ gameId, gameFolder: row.game_folder, replayFile: row.replay_file, reason }, 'refusing to sign an unsafe replay key')
      throw new InvalidReplayKey(gameId)
    }
    return { key, ...downloadHeaders(gameId, row.replay_file) }
  }

  private async lookup (gameId: string, log: FastifyBaseLogger): Promise<Lookup> {
    if (this.cache === undefined) {
      this.onLookup('database')
      return { row: await this.read(gameId, log) }
    }
    // A known replay, even stale, is answered at once while the row is read again in the background;
    // a game without one waits for the database, so that a new recording is seen as soon as its entry ends.
    const known = this.cache.peek(gameId, { allowStale: true })?.row?.replay_file != null
    this.onLookup(known || this.cache.has(gameId) ? 'cache' : 'database')
    const found = await this.cache.fetch(gameId, { allowStale: known, context: log })
    // The cache settles a failed read with nothing when it has no stale entry to give instead.
    if (found === undefined) throw new DatabaseUnavailable()
    return found
  }

  private async read (gameId: string, log: FastifyBaseLogger): Promise<ReplayRow | undefined> {
    try {
      return await findReplay(this.db, gameId)
    } catch (error) {
      log.error({ err: error, gameId }, 'game lookup failed')
      throw new DatabaseUnavailable()
    }
  }
}
