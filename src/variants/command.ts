// What `npm run replays:compress` does: for each game whose replay lacks a
// coding asked for (paged by id), make the variant (compress.ts), verify it,
// and only then record it. A game that fails is named with its reason and the
// others go on. Exit code: 0 done, 1 a game failed or the command could not
// run, 2 bad usage, 130 interrupted (nothing half-made is recorded).
import type { S3Client } from '@aws-sdk/client-s3'
import type { Env, S3Config } from '../config/index.js'
import { readDatabase } from '../config/database.js'
import { Reader } from '../config/reader.js'
import { readStorage } from '../config/storage.js'
import { openDatabase, type GameDatabase } from '../db/database.js'
import type { GamesTableConfig } from '../db/games-table.js'
import { replayLocation, type GamesRepository, type ReplayToCompress } from '../db/games.js'
import type { ContentCoding } from '../model/replay-object.js'
import { locationFile, locationKey, type ReplayLocation } from '../replay/replay-key.js'
import { createS3Client, type Credentials } from '../storage/s3-client.js'
import { makeVariant, variantKey } from './compress.js'
import { codecFor, runtimeZstd, type ZstdStreams } from './encodings.js'
import { USAGE, UsageError, parseCompressArgs, type CompressOptions } from './options.js'
import { Report, type Output, type ProgressStream } from './report.js'

export interface CompressRun {
  args: string[]
  env: Env
  out: Output
  /** Where the progress bar goes when it is a terminal (the entry point's stderr); else a line per variant. */
  progress?: ProgressStream
  /** Left out: the AWS SDK's default chain (environment, profile, container or instance role). */
  credentials?: Credentials
  /** Ends the run: the game in hand is left unrecorded. */
  signal?: AbortSignal
  /** Left out: node:zlib's own, where the runtime has it. */
  zstd?: ZstdStreams | undefined
  /** Left out: PostgreSQL at DATABASE_URL, its games where the settings say (the tests hand in their own database). */
  openGames?: (url: string, timeoutMs: number, gamesTable: GamesTableConfig) => Promise<GameDatabase>
  /** Games asked of the database at a time (default 100). */
  pageSize?: number
}

interface Settings { databaseUrl: string, databaseTimeoutMs: number, gamesTable: GamesTableConfig, s3: S3Config }

const PAGE = 100

export async function runReplaysCompress (run: CompressRun): Promise<number> {
  const zstd = 'zstd' in run ? run.zstd : runtimeZstd()
  let options
  try {
    options = parseCompressArgs(run.args, zstd)
  } catch (error) {
    run.out.error(`replays:compress: ${(error as UsageError).message}\n${USAGE}`)
    return 2
  }
  if (options === 'help') {
    run.out.log(USAGE)
    return 0
  }
  try {
    const settings = readSettings(run.env)
    const database = await (run.openGames ?? openPostgres)(settings.databaseUrl, settings.databaseTimeoutMs, settings.gamesTable)
    const client = createS3Client({ ...settings.s3, credentials: run.credentials })
    try {
      return await compressAll({ ...run, options, zstd, settings, games: database.games, client })
    } finally {
      client.destroy()
      await database.close()
    }
  } catch (error) {
    run.out.error(`replays:compress failed: ${(error as Error).message}`)
    return 1
  }
}

/** DATABASE_URL, S3_BUCKET and the other S3_* settings, as the service reads them; both named when missing. */
function readSettings (env: Env): Settings {
  const read = new Reader(env)
  const { databaseUrl, databaseTimeoutMs, gamesTable } = readDatabase(read)
  const { s3 } = readStorage(read)
  if (databaseUrl === undefined && !read.failed('DATABASE_URL')) {
    read.problem('DATABASE_URL', `DATABASE_URL is not set${read.setInstead('DATABASE_URL')}: it names the PostgreSQL database whose games are compressed (postgres://user:password@host:5432/database)`)
  }
  if (read.string('S3_BUCKET') === undefined) read.problem('S3_BUCKET', `S3_BUCKET is not set${read.setInstead('S3_BUCKET')}: it names the bucket that holds the replays`)
  read.check()
  return { databaseUrl: databaseUrl as string, databaseTimeoutMs, gamesTable, s3 }
}

async function openPostgres (url: string, timeoutMs: number, gamesTable: GamesTableConfig): Promise<GameDatabase> {
  // A long page query on a big table is fine here: ten times the service's bound.
  return await openDatabase({ postgres: { url, timeoutMs: timeoutMs * 10, maxConnections: 4 } }, gamesTable)
}

interface Context extends CompressRun {
  options: CompressOptions
  zstd: ZstdStreams | undefined
  settings: Settings
  games: GamesRepository
  client: S3Client
}

/** Every game that needs a variant, a page at a time by id. */
async function * pending (games: GamesRepository, { codings, ids }: CompressOptions, limit: number): AsyncGenerator<ReplayToCompress> {
  let afterId: string | undefined
  for (;;) {
    const page = await games.replaysToCompress(codings, { ids, afterId, limit })
    yield * page
    if (page.length < limit) return
    afterId = (page.at(-1) as ReplayToCompress).id
  }
}

function missing (game: ReplayToCompress, codings: readonly ContentCoding[]): ContentCoding[] {
  return codings.filter((coding) => !game.has.includes(coding))
}

async function compressAll (context: Context): Promise<number> {
  const { options, games, out } = context
  let total = 0
  const pageSize = context.pageSize ?? PAGE
  for await (const game of pending(games, options, pageSize * 10)) {
    total++
    if (options.dryRun) out.log(describePlan(context, game))
  }
  if (options.dryRun) {
    out.log(`Dry run: ${total} game(s) lack a variant of ${options.codings.join(', ')}; nothing was made or recorded.`)
    return 0
  }
  const report = new Report(out, context.progress, total)
  const queue = pending(games, options, pageSize)
  const worker = async (): Promise<void> => {
    for (;;) {
      if (context.signal?.aborted === true) return
      const next = await queue.next()
      if (next.done === true) return
      await compressGame(context, report, next.value)
    }
  }
  // One generator shared by the workers: a page is asked for when the last one is handed out.
  const results = await Promise.allSettled(Array.from({ length: options.concurrency }, worker))
  const interrupted = context.signal?.aborted === true
  report.finish(interrupted)
  const failure = results.find((result) => result.status === 'rejected')
  if (failure !== undefined && !interrupted) throw failure.reason
  if (interrupted) return 130
  return report.failures.length > 0 ? 1 : 0
}

/** The games asked for all have a replay (replaysToCompress leaves the others out). */
function locationOf (game: ReplayToCompress): ReplayLocation {
  return replayLocation(game) as ReplayLocation
}

function describePlan (context: Context, game: ReplayToCompress): string {
  const plan = missing(game, context.options.codings).map((coding) => {
    try {
      return `${coding} → ${variantKey(locationKey(context.settings.s3.keyPrefix, locationOf(game)), coding)}`
    } catch (error) {
      return `${coding}: cannot be made (${(error as Error).message})`
    }
  })
  return `game ${game.id}: ${plan.join('; ')}`
}

async function compressGame (context: Context, report: Report, game: ReplayToCompress): Promise<void> {
  const { options, settings, client, games, signal } = context
  try {
    const location = locationOf(game)
    const identityKey = locationKey(settings.s3.keyPrefix, location)
    for (const coding of missing(game, options.codings)) {
      const outcome = await makeVariant({
        client,
        bucket: settings.s3.bucket,
        gameId: game.id,
        replayFile: locationFile(location),
        identityKey,
        coding,
        codec: codecFor(coding, context.zstd) as NonNullable<ReturnType<typeof codecFor>>,
        level: options.levels[coding],
        signal,
        onBytes: (count) => { report.read(count) }
      })
      if (!outcome.made) {
        report.variantSkipped(game.id, coding, outcome.identitySize, outcome.size)
        continue
      }
      const { record, seconds } = outcome
      await games.recordVariant(record)
      report.variantMade(game.id, coding, record.identitySize, record.size, seconds, record.key)
    }
  } catch (error) {
    if (signal?.aborted === true) return
    report.failed(game.id, (error as Error).message)
  }
  report.gameDone()
}
