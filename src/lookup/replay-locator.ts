// Game id → replay object: the database lookup, a cache in front of it, the
// key rule and the download name.
//
// A recorded replay does not change, so a game's row is cached (bounded in
// count and age). A stale entry is still answered at once while a fresh read
// runs in the background, and when the database does not answer it keeps being
// served: cached games go on downloading through an outage. A game without a
// replay, or no game at all, is cached only briefly, and in a cache of its
// own. What the row means (the key, the download's name) is worked out once,
// when the row is read.
import type { FastifyBaseLogger } from 'fastify'
import { LRUCache } from 'lru-cache'
import type { LookupCacheConfig } from '../config/index.js'
import { classifyDatabaseError } from '../db/database-errors.js'
import { replayLocation, type GamesRepository, type RecordedVariant, type ReplayRowWithVariants } from '../db/games.js'
import { databaseUnavailable, GameNotFound, InvalidReplayKey, ReplayNotAvailable } from '../http/errors.js'
import type { ReplayObject } from '../model/replay-object.js'
import type { LookupSource } from '../observability/metrics.js'
import { inSpan, type TraceParent } from '../observability/telemetry.js'
import { downloadHeaders } from '../replay/download-name.js'
import { locationFile, locationKey, variantKey, type ReplayLocation, type UnsafeReplayKeyError } from '../replay/replay-key.js'

export interface ReplayLocatorOptions {
  games: GamesRepository
  keyPrefix: string
  cache: LookupCacheConfig
  /** Told where each answer came from. */
  onLookup?: (source: LookupSource) => void
  /** The cache's clock, in milliseconds; tests move one by hand. */
  clock?: { now: () => number }
}

/** What the database said about a game, resolved once: its replay object, or why there is none. */
type Lookup =
  | { found: 'replay', object: ReplayObject }
  | { found: 'no-game' }
  | { found: 'no-replay' }
  | { found: 'unsafe-key', location: ReplayLocation, reason: string }

export class ReplayLocator {
  private readonly games: GamesRepository
  private readonly keyPrefix: string
  /** Games with a replay. */
  private readonly known: LRUCache<string, Lookup> | undefined
  /** Games without one, and ids of no game: kept apart, so that a flood of unknown ids evicts no known game. */
  private readonly misses: LRUCache<string, Lookup> | undefined
  /** One database read per game at a time, shared by the requests that wait for it. */
  private readonly reading = new Map<string, Promise<Lookup>>()
  private readonly onLookup: (source: LookupSource) => void

  constructor ({ games, keyPrefix, cache, onLookup = () => {}, clock = performance }: ReplayLocatorOptions) {
    this.games = games
    this.keyPrefix = keyPrefix
    this.onLookup = onLookup
    if (cache.size > 0) {
      // A stale entry stays until a fresh read replaces it: it is what an outage is answered with.
      this.known = new LRUCache<string, Lookup>({ max: cache.size, ttl: cache.ttlSeconds * 1000, perf: clock, noDeleteOnStaleGet: true })
      // A TTL of 0 would mean "forever" here: 1 ms is as good as not caching.
      this.misses = new LRUCache<string, Lookup>({ max: cache.size, ttl: Math.max(1, cache.missTtlSeconds * 1000), perf: clock })
    }
  }

  /** Whether the cache holds games: an entry is kept past its age too, and is what a database outage is answered with. */
  holdsGames (): boolean {
    return (this.known?.size ?? 0) > 0
  }

  /** The replay object of a game known to have one, when it is cached and within its age; else undefined (ask locate). */
  cached (gameId: string): ReplayObject | undefined {
    const fresh = this.known?.get(gameId)
    if (fresh?.found !== 'replay') return undefined
    this.onLookup('cache')
    return fresh.object
  }

  /** The replay object of a game, or the contract's error for why there is none; `trace`: the request's, for the lookup's span. */
  async locate (gameId: string, log: FastifyBaseLogger, trace?: TraceParent): Promise<ReplayObject> {
    // The common case, a known game within its age, is answered from memory: no span, no promise of its own.
    const fresh = this.known?.get(gameId)
    if (fresh !== undefined) {
      this.onLookup('cache')
      return this.answer(gameId, fresh, log)
    }
    const lookup = await inSpan(trace, 'replay.lookup', { 'replay.game_id': gameId }, async () => await this.lookup(gameId, log))
    return this.answer(gameId, lookup, log)
  }

  private answer (gameId: string, lookup: Lookup, log: FastifyBaseLogger): ReplayObject {
    switch (lookup.found) {
      case 'replay': return lookup.object
      case 'no-game': throw new GameNotFound(gameId)
      case 'no-replay': throw new ReplayNotAvailable(gameId)
      case 'unsafe-key':
        log.error({ gameId, ...logged(lookup.location), reason: lookup.reason }, 'refusing to sign an unsafe replay key')
        throw new InvalidReplayKey(gameId)
    }
  }

  private async lookup (gameId: string, log: FastifyBaseLogger): Promise<Lookup> {
    if (this.known === undefined || this.misses === undefined) {
      this.onLookup('database')
      return await this.read(gameId)
    }
    // A known replay past its age is answered at once while the row is read again in the background;
    // a game without one waits for the database, so that a new recording is seen as soon as its entry ends.
    const stale = this.known.peek(gameId, { allowStale: true })
    if (stale !== undefined) {
      this.onLookup('cache')
      this.readOnce(gameId).catch((error: Error) => {
        log.warn({ gameId, cause: error.cause }, 'a cached game past its age was served: reading it again failed')
      })
      return stale
    }
    const miss = this.misses.get(gameId)
    if (miss !== undefined) {
      this.onLookup('cache')
      return miss
    }
    this.onLookup('database')
    return await this.readOnce(gameId)
  }

  private async readOnce (gameId: string): Promise<Lookup> {
    let reading = this.reading.get(gameId)
    if (reading === undefined) {
      reading = this.read(gameId).then((lookup) => {
        if (lookup.found === 'replay' || lookup.found === 'unsafe-key') {
          this.known?.set(gameId, lookup)
          this.misses?.delete(gameId)
        } else {
          this.misses?.set(gameId, lookup)
          this.known?.delete(gameId)
        }
        return lookup
      }).finally(() => this.reading.delete(gameId))
      this.reading.set(gameId, reading)
    }
    return await reading
  }

  private async read (gameId: string): Promise<Lookup> {
    let row: ReplayRowWithVariants | undefined
    try {
      row = await this.games.findReplayWithVariants(gameId)
    } catch (error) {
      // Logged once, by the error handler, with what happened as its cause.
      throw databaseUnavailable(classifyDatabaseError(error))
    }
    if (row === undefined) return { found: 'no-game' }
    const location = replayLocation(row)
    if (location === undefined) return { found: 'no-replay' }
    try {
      const key = locationKey(this.keyPrefix, location)
      return { found: 'replay', object: { key, ...downloadHeaders(gameId, locationFile(location)), ...variantsOf(key, row.variants) } }
    } catch (error) {
      // locationKey throws nothing but UnsafeReplayKeyError.
      return { found: 'unsafe-key', location, reason: (error as UnsafeReplayKeyError).reason }
    }
  }
}

/** A refused location's parts, for the log, under the names of the settings' columns. */
function logged (location: ReplayLocation): Record<string, string> {
  return 'key' in location ? { replayKey: location.key } : { gameFolder: location.folder, replayFile: location.file }
}

/**
 * The variants made from this very object: one recorded for another key
 * (the row was changed since) is left out, and each variant's key is the
 * one the compress command gives it, never a key read from the table.
 */
function variantsOf (key: string, recorded: readonly RecordedVariant[]): Pick<ReplayObject, 'variants' | 'identitySize'> {
  const variants = recorded.filter((variant) => variant.identityKey === key && variant.key === variantKey(key, variant.encoding))
  if (variants.length === 0) return {}
  return { variants: variants.map(({ encoding, size }) => ({ encoding, key: variantKey(key, encoding), size })), identitySize: variants[0]?.identitySize }
}
