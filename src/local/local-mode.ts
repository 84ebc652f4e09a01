// Local mode: everything embedded, nothing to install or configure.
import type { Kysely } from 'kysely'
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { readBucketCors } from '../bucket/cors-rules.js'
import type { LocalConfig } from '../config/index.js'
import { localDatabaseDir, openDatabase, type Database } from '../db/database.js'
import type { GamesRepository } from '../db/games.js'
import { isOwnGamesTable } from '../db/games-table.js'
import { migrateToLatest } from '../db/migrate.js'
import type { S3RequestObserver } from '../model/s3-request.js'
import { cdnSigner } from '../signing/cloudfront-signer.js'
import { openStorage } from '../storage/open-storage.js'
import type { ReplayStorage } from '../storage/replay-storage.js'
import { createS3Client } from '../storage/s3-client.js'
import { DEMO_GAME, DEMO_GAME_WITHOUT_REPLAY, seedDemo } from './demo-seed.js'
import { EMULATOR_CREDENTIALS, startS3Emulator } from './s3-emulator.js'

export interface LocalBackends {
  db: Kysely<Database>
  games: GamesRepository
  storage: ReplayStorage
  s3Endpoint: string
  dataDir: string
  /** Closes the storage, the emulator and the database, in that order. */
  close: () => Promise<void>
}

/** Local mode's PGlite has no pool: only S3 requests are reported. */
export async function startLocalBackends (config: LocalConfig, { onS3Request }: { onS3Request: S3RequestObserver }): Promise<LocalBackends> {
  const dataDir = resolve(config.localDataDir)
  await mkdir(join(dataDir, 's3'), { recursive: true })
  const { db, games, close: closeDatabase } = await openDatabase({ pglite: { dataDir: localDatabaseDir(config.localDataDir) } }, config.gamesTable)
  try {
    await migrateToLatest(db, config.gamesTable)
    const emulator = await startS3Emulator({ directory: join(dataDir, 's3'), bucket: { name: config.s3.bucket, cors: readBucketCors() } })
    const s3 = { ...config.s3, endpoint: emulator.endpoint, publicEndpoint: emulator.endpoint, forcePathStyle: true }
    const uploader = createS3Client({ ...s3, credentials: EMULATOR_CREDENTIALS })
    // The demo goes only into the service's own table: a platform's is never written to.
    if (isOwnGamesTable(config.gamesTable)) await seedDemo(games, uploader, s3).finally(() => { uploader.destroy() })
    else uploader.destroy()
    const storage = openStorage({ ...config, s3, signer: cdnSigner(config.cdn), credentials: EMULATOR_CREDENTIALS, headCache: config.lookupCache, onRequest: onS3Request })
    return {
      db,
      games,
      storage,
      s3Endpoint: emulator.endpoint,
      dataDir,
      close: async () => {
        storage.close()
        await emulator.close()
        await closeDatabase()
      }
    }
  } catch (error) {
    await closeDatabase()
    throw error
  }
}

export function localBanner (serviceUrl: string, backends: Pick<LocalBackends, 's3Endpoint' | 'dataDir'>): string {
  const replay = `${serviceUrl}/games/${DEMO_GAME.id}/replay`
  return [
    '',
    'replay-gate is running in local mode (no DATABASE_URL or S3_BUCKET set):',
    `  database   PGlite in ${backends.dataDir}/pglite`,
    `  storage    S3 emulator at ${backends.s3Endpoint}, bucket files in ${backends.dataDir}/s3`,
    '',
    'Try:',
    `  curl -sL ${replay}              # follow the redirect, print the demo replay`,
    `  curl -sL --compressed ${replay} # the same, sent as its gzip variant and decoded by curl`,
    `  curl -s -D - -o /dev/null ${replay}   # the 302 and its Location`,
    `  curl -sI ${replay}              # HEAD: the download's size, type and name`,
    `  curl -s  ${replay}/url          # the signed URL as JSON`,
    `  curl -s  ${serviceUrl}/games/${DEMO_GAME_WITHOUT_REPLAY.id}/replay  # 404 REPLAY_NOT_AVAILABLE`,
    `  curl -s  ${serviceUrl}/readyz`,
    ''
  ].join('\n')
}
