// The demo data of local mode: one game with a replay, one still without.
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import type { GamesRepository } from '../db/games.js'
import { replayKey } from '../replay/replay-key.js'
import { makeVariant } from '../variants/compress.js'
import { codecFor, defaultCodings, DEFAULT_LEVELS, runtimeZstd, type Codec } from '../variants/encodings.js'

export const DEMO_GAME = { id: '1', folder: 'demo/game-1', file: 'replay.json' } as const
export const DEMO_GAME_WITHOUT_REPLAY = { id: '2', folder: 'demo/game-2' } as const

export function demoReplay (): Buffer {
  const events = Array.from({ length: 200 }, (_, i) => ({
    tick: i * 30,
    player: (i % 2) + 1,
    action: ['move', 'attack', 'build', 'chat'][i % 4],
    x: (i * 37) % 512,
    y: (i * 91) % 512
  }))
  return Buffer.from(JSON.stringify({ game: 1, map: 'Seton\'s Clutch', players: ['alice', 'bob'], events }, null, 2) + '\n')
}

/** `s3` uploads (the emulator's own client): the service's storage only reads. */
export async function seedDemo (games: GamesRepository, s3: S3Client, { bucket, keyPrefix }: { bucket: string, keyPrefix: string }): Promise<void> {
  await games.insert([
    { id: DEMO_GAME.id, game_folder: DEMO_GAME.folder, replay_file: DEMO_GAME.file },
    { id: DEMO_GAME_WITHOUT_REPLAY.id, game_folder: DEMO_GAME_WITHOUT_REPLAY.folder, replay_file: null }
  ], { keepExisting: true })
  const key = replayKey(keyPrefix, DEMO_GAME.folder, DEMO_GAME.file)
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: demoReplay(), ContentType: 'application/json' }))
  await compressDemo(games, s3, bucket, key)
}

/**
 * The demo replay's compressed variants, made, verified and recorded as
 * `npm run replays:compress` makes them (only those missing: local mode
 * keeps its data between starts), so that `curl --compressed` shows them.
 */
async function compressDemo (games: GamesRepository, client: S3Client, bucket: string, identityKey: string): Promise<void> {
  const zstd = runtimeZstd()
  const codings = defaultCodings(zstd)
  const [lacking] = await games.replaysToCompress(codings, { ids: [DEMO_GAME.id], limit: 1 })
  if (lacking === undefined) return
  for (const coding of codings.filter((coding) => !lacking.has.includes(coding))) {
    const outcome = await makeVariant({ client, bucket, gameId: DEMO_GAME.id, replayFile: DEMO_GAME.file, identityKey, coding, codec: codecFor(coding, zstd) as Codec, level: DEFAULT_LEVELS[coding] })
    // The demo's JSON always comes out several times smaller.
    await games.recordVariant((outcome as Extract<typeof outcome, { made: true }>).record)
  }
}
