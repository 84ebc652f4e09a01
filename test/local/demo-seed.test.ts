// Local mode's demo: a game with a replay and its compressed variants, one without.
import { GetObjectCommand } from '@aws-sdk/client-s3'
import { gunzipSync } from 'node:zlib'
import t from 'tap'
import { GamesRepository } from '../../src/db/games.js'
import { DEMO_GAME, DEMO_GAME_WITHOUT_REPLAY, demoReplay, seedDemo } from '../../src/local/demo-seed.js'
import { defaultCodings, runtimeZstd } from '../../src/variants/encodings.js'
import { openTestBucket, openTestDatabase } from '../helper.js'
import { sha256 } from '../support/bytes.js'

t.test('the demo game has its replay and every variant the runtime can make; seeding again changes nothing', async (t) => {
  const [db, bucket] = await Promise.all([openTestDatabase(t), openTestBucket(t)])
  const games = new GamesRepository(db)
  await seedDemo(games, bucket.admin, { bucket: bucket.s3.bucket, keyPrefix: '' })
  const found = await games.findReplayWithVariants(DEMO_GAME.id)
  t.same(found?.variants.map((variant) => variant.encoding).sort(), [...defaultCodings(runtimeZstd())].sort())
  t.same(await games.findReplay(DEMO_GAME_WITHOUT_REPLAY.id), { game_folder: DEMO_GAME_WITHOUT_REPLAY.folder, replay_file: null })
  const gzip = found?.variants.find((variant) => variant.encoding === 'gzip')
  const stored = await bucket.admin.send(new GetObjectCommand({ Bucket: bucket.s3.bucket, Key: gzip?.key }))
  t.equal(stored.ContentEncoding, 'gzip')
  t.equal(sha256(gunzipSync(Buffer.from(await (stored.Body as { transformToByteArray: () => Promise<Uint8Array> }).transformToByteArray()))), sha256(demoReplay()))
  t.ok((gzip?.size ?? Infinity) * 3 < demoReplay().length, 'a fraction of the replay')

  const before = await games.findReplayWithVariants(DEMO_GAME.id)
  await seedDemo(games, bucket.admin, { bucket: bucket.s3.bucket, keyPrefix: '' })
  t.same(await games.findReplayWithVariants(DEMO_GAME.id), before, 'a second start makes nothing again')
})
