// Game id → object key: the database lookup and the key's safety checks.
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from './db/database.js'
import { findReplay } from './db/games.js'
import { DatabaseUnavailable, GameNotFound, InvalidReplayKey, ReplayNotAvailable } from './errors.js'
import { downloadHeaders } from './storage/download-name.js'
import type { ReplayObject } from './storage/replay-storage.js'
import { replayKey, type UnsafeReplayKeyError } from './storage/replay-key.js'

export interface ReplayLocator {
  db: Kysely<Database>
  keyPrefix: string
  log: FastifyBaseLogger
}

export async function locateReplay ({ db, keyPrefix, log }: ReplayLocator, gameId: string): Promise<ReplayObject> {
  let row
  try {
    row = await findReplay(db, gameId)
  } catch (error) {
    log.error({ err: error, gameId }, 'game lookup failed')
    throw new DatabaseUnavailable()
  }
  if (row === undefined) throw new GameNotFound(gameId)
  if (row.replay_file === null) throw new ReplayNotAvailable(gameId)
  let key: string
  try {
    key = replayKey(keyPrefix, row.game_folder, row.replay_file)
  } catch (error) {
    // replayKey throws nothing but UnsafeReplayKeyError.
    const { reason } = error as UnsafeReplayKeyError
    log.error({ gameId, gameFolder: row.game_folder, replayFile: row.replay_file, reason }, 'refusing to sign an unsafe replay key')
    throw new InvalidReplayKey(gameId)
  }
  return { key, ...downloadHeaders(gameId, row.replay_file) }
}
