// The demo data of local mode: one game with a replay, one still without.
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import type { GamesRepository } from '../db/games.js'
import { replayKey } from '../replay/replay-key.js'

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
  await s3.send(new PutObjectCommand({
    Bucket: bucket,
    Key: replayKey(keyPrefix, DEMO_GAME.folder, DEMO_GAME.file),
    Body: demoReplay(),
    ContentType: 'application/json'
  }))
}
