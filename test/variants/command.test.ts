// replays:compress in this process, on the test's database and bucket (the
// embedded ones, or PostgreSQL and RGW in CI): what it makes, records and
// prints, and what it leaves alone.
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import type { Kysely } from 'kysely'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import t from 'tap'
import { generateReplayText } from '../../bench/replay-generator.js'
import type { Database } from '../../src/db/database.js'
import { DEFAULT_GAMES_TABLE } from '../../src/db/games-table.js'
import { GamesRepository } from '../../src/db/games.js'
import type { ContentCoding } from '../../src/model/replay-object.js'
import { runReplaysCompress, type CompressRun } from '../../src/variants/command.js'
import { codecFor, runtimeZstd } from '../../src/variants/encodings.js'
import { seedReplays, type SeedGame, type Tap, type TestS3 } from '../helper.js'
import { sha256 } from '../support/bytes.js'

const zstd = runtimeZstd()
const ALL: ContentCoding[] = zstd === undefined ? ['gzip', 'br'] : ['gzip', 'br', 'zstd']
const replay = (seed: number, ticks = 12): string => generateReplayText({ ticks, seed })

interface Outcome { code: number, stdout: string, stderr: string }

interface Setup {
  db: Kysely<Database>
  games: GamesRepository
  bucket: TestS3
  cli: (args: string[], more?: Partial<CompressRun>) => Promise<Outcome>
}

async function setUp (t: Tap, seed: SeedGame[]): Promise<Setup> {
  const { db, bucket } = await seedReplays(t, seed)
  const games = new GamesRepository(db)
  const env = { DATABASE_URL: 'postgres://127.0.0.1:5432/handed-in', S3_BUCKET: bucket.s3.bucket, S3_ENDPOINT: bucket.s3.endpoint as string, S3_REGION: bucket.s3.region }
  const cli: Setup['cli'] = async (args, more = {}) => {
    const stdout: string[] = []
    const stderr: string[] = []
    const code = await runReplaysCompress({
      args,
      env,
      credentials: bucket.credentials,
      out: { log: (line) => stdout.push(line), error: (line) => stderr.push(line) },
      openGames: async () => ({ db, games, pool: undefined, close: async () => {} }),
      ...more
    })
    return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') }
  }
  return { db, games, bucket, cli }
}

async function read (client: S3Client, bucket: string, key: string): Promise<{ body: Buffer, encoding: string | undefined, type: string | undefined, etag: string | undefined }> {
  const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return { body: Buffer.from(await (answer.Body as { transformToByteArray: () => Promise<Uint8Array> }).transformToByteArray()), encoding: answer.ContentEncoding, type: answer.ContentType, etag: answer.ETag }
}

async function decode (coding: ContentCoding, body: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = []
  const codec = codecFor(coding, zstd)
  if (codec === undefined) throw new Error(`no ${coding} here`)
  await pipeline([body] as unknown as Readable, codec.decompress(), new Writable({ write (chunk: Buffer, _encoding, done) { chunks.push(chunk); done() } }))
  return Buffer.concat(chunks)
}

async function keys (s3: TestS3): Promise<string[]> {
  const listed = await s3.admin.send(new ListObjectsV2Command({ Bucket: s3.s3.bucket }))
  return (listed.Contents ?? []).map((object) => object.Key as string).sort()
}

const three = (): SeedGame[] => [
  { id: '1', game_folder: 'season-1/game-1', replay_file: 'replay.json', body: replay(1), contentType: 'application/json' },
  { id: '2', game_folder: 'season-1/game-2', replay_file: 'replay.rep', body: replay(2), contentType: 'application/x-replay' },
  { id: '3', game_folder: 'season-1/game-3', replay_file: 'replay.json', body: replay(3) }
]

t.test('--all makes, verifies and records every coding; each decodes to its replay; the replays are untouched; a second run makes nothing', async (t) => {
  const seed = three()
  const { games, bucket, cli } = await setUp(t, seed)
  const before = await Promise.all(seed.map(async (game) => await read(bucket.admin, bucket.s3.bucket, `${game.game_folder}/${String(game.replay_file)}`)))

  const first = await cli(['--all', '--concurrency', '3'], { pageSize: 2 })
  t.equal(first.code, 0, first.stderr)
  t.equal(first.stderr, '')
  for (const game of seed) {
    const identityKey = `${game.game_folder}/${String(game.replay_file)}`
    const row = await games.findReplayWithVariants(game.id)
    t.same(row?.variants.map((v) => v.encoding).sort(), [...ALL].sort(), `game ${game.id}: every coding recorded`)
    for (const variant of row?.variants ?? []) {
      t.equal(variant.key, `${identityKey}.variant-${variant.encoding}`)
      t.notMatch(variant.key, /\.(gz|br|zst)$/, 'no compression extension that wget would refuse to decode')
      const stored = await read(bucket.admin, bucket.s3.bucket, variant.key)
      t.equal(stored.encoding, variant.encoding, 'stored with its Content-Encoding')
      t.equal(stored.type, game.replay_file === 'replay.rep' ? 'application/x-replay' : 'application/json', 'the name\'s type, else the stored one')
      t.equal(stored.body.length, variant.size, 'the recorded size is the object\'s')
      t.ok(variant.size < Buffer.byteLength(game.body as string) / 4, `${variant.encoding} is several times smaller`)
      t.equal(sha256(await decode(variant.encoding, stored.body)), sha256(game.body as string), `${variant.encoding} decodes to the replay`)
    }
    t.match(first.stdout, new RegExp(`game ${game.id}: gzip \\d+\\.\\d KiB → \\d+\\.\\d KiB \\(\\d+\\.\\d×, \\d+\\.\\d s\\) ${identityKey}\\.variant-gzip`))
  }
  t.match(first.stdout, new RegExp(`Done: 3 game\\(s\\), ${3 * ALL.length} variant\\(s\\) made, 0 skipped \\(not smaller\\), 0 failed`))
  t.match(first.stdout, /\n {2}gzip: 3 made, \d+\.\d KiB → \d+\.\d KiB \(\d+\.\d×\)/)
  t.match(first.stdout, /\n {2}br: 3 made/)

  const after = await Promise.all(seed.map(async (game) => await read(bucket.admin, bucket.s3.bucket, `${game.game_folder}/${String(game.replay_file)}`)))
  t.same(after.map((r) => [r.etag, sha256(r.body), r.encoding]), before.map((r) => [r.etag, sha256(r.body), r.encoding]), 'the replays keep their bytes and ETags')

  const second = await cli(['--all'])
  t.equal(second.code, 0)
  t.match(second.stdout, /^Done: 0 game\(s\), 0 variant\(s\) made/, 'nothing left to make')
  t.equal((await keys(bucket)).length, 3 + 3 * ALL.length)
})

t.test('ids: only those games, and only the codings they lack', async (t) => {
  const { games, cli } = await setUp(t, three())
  const gzip = await cli(['2', '3', '3', '--encodings', 'gzip'])
  t.equal(gzip.code, 0, gzip.stderr)
  t.same((await games.findReplayWithVariants('1'))?.variants, [])
  t.same((await games.findReplayWithVariants('2'))?.variants.map((v) => v.encoding), ['gzip'])
  const more = await cli(['2', '--encodings', 'gzip,br', '--level', 'gzip=1, br=4'])
  t.equal(more.code, 0, more.stderr)
  t.match(more.stdout, /game 2: br/)
  t.notMatch(more.stdout, /game 2: gzip/, 'a coding already recorded is not made again')
  t.same((await games.findReplayWithVariants('2'))?.variants.map((v) => v.encoding).sort(), ['br', 'gzip'])
  t.same((await games.findReplayWithVariants('3'))?.variants.map((v) => v.encoding), ['gzip'])
})

t.test('a missing replay object, an unsafe key and a key too long fail their games by id; the others go on; exit code 1', async (t) => {
  // 1,020 bytes with the file name, in segments a file system can hold (an emulator stores keys as paths).
  const longFolder = ['a', 'b', 'c', 'd'].map((letter) => letter.repeat(200)).concat('e'.repeat(209)).join('/')
  const { games, bucket, cli } = await setUp(t, [
    { id: '1', game_folder: 'g1', replay_file: 'r.json', body: replay(1) },
    { id: '2', game_folder: 'g2', replay_file: 'gone.json' },
    { id: '3', game_folder: 'g3/../other', replay_file: 'r.json' },
    { id: '4', game_folder: longFolder, replay_file: 'r.json', body: replay(4) },
    { id: '5', game_folder: 'g5', replay_file: 'r.json', body: replay(5) }
  ])
  const run = await cli(['--all', '--encodings', 'gzip', '--concurrency', '1'])
  t.equal(run.code, 1)
  t.match(run.stderr, /^game 2 failed: the replay object g2\/gone\.json is missing \(S3 answered 404, NoSuchKey\)$/m)
  t.match(run.stderr, /^game 3 failed: unsafe replay key: the game folder has a "\.\." segment$/m)
  t.match(run.stderr, /^game 4 failed: the variant's key would be longer than S3's 1024 bytes \(1033\): a{60}…$/m)
  t.match(run.stderr, /Failed \(3\):\n {2}game 2: the replay object g2\/gone\.json is missing/)
  t.match(run.stdout, /Done: 5 game\(s\), 2 variant\(s\) made, 0 skipped \(not smaller\), 3 failed/)
  t.same((await games.findReplayWithVariants('1'))?.variants.map((v) => v.encoding), ['gzip'])
  t.same((await games.findReplayWithVariants('5'))?.variants.map((v) => v.encoding), ['gzip'], 'the games after the failures are done')
  for (const id of ['2', '3', '4']) t.same((await games.findReplayWithVariants(id))?.variants, [], `nothing recorded for game ${id}`)
  t.notOk((await keys(bucket)).some((key) => key.startsWith('g2/')), 'nothing made for the missing replay')
})

t.test('a variant not smaller than its replay is skipped, removed and not recorded', async (t) => {
  const { games, bucket, cli } = await setUp(t, [{ id: '7', game_folder: 'tiny', replay_file: 'r.json', body: '{}' }])
  const run = await cli(['7', '--encodings', 'gzip,br'])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /game 7: gzip skipped: \d+ bytes is not smaller than the replay's 2; nothing recorded/)
  t.match(run.stdout, /0 variant\(s\) made, 2 skipped \(not smaller\)/)
  t.same((await games.findReplayWithVariants('7'))?.variants, [])
  t.same(await keys(bucket), ['tiny/r.json'], 'only the replay is left')
})

t.test('--dry-run lists what would be made and changes nothing', async (t) => {
  const { games, bucket, cli } = await setUp(t, [...three(), { id: '4', game_folder: '/abs', replay_file: 'r.json' }])
  await cli(['1', '--encodings', 'gzip'])
  const dry = await cli(['--all', '--dry-run', '--encodings', 'gzip,br'])
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stdout, /^game 1: br → season-1\/game-1\/replay\.json\.variant-br$/m, 'only what game 1 lacks')
  t.match(dry.stdout, /^game 2: gzip → season-1\/game-2\/replay\.rep\.variant-gzip; br → season-1\/game-2\/replay\.rep\.variant-br$/m)
  t.match(dry.stdout, /^game 4: gzip: cannot be made \(unsafe replay key: the game folder starts with "\/"\); br: cannot be made/m)
  t.match(dry.stdout, /Dry run: 4 game\(s\) lack a variant of gzip, br; nothing was made or recorded\./)
  t.same((await games.findReplayWithVariants('2'))?.variants, [])
  t.equal((await keys(bucket)).length, 4, 'the three replays and game 1\'s gzip, nothing more')
})

t.test('an interrupted run records nothing for the game in hand; the next one finishes, over a leftover object', async (t) => {
  const { games, bucket, cli } = await setUp(t, three())
  // What a killed run may leave: an object nobody recorded, under a variant's key.
  await bucket.put('season-1/game-3/replay.json.variant-gzip', 'half a variant')
  const interrupt = new AbortController()
  const stopped = await cli(['--all', '--encodings', 'gzip,br', '--concurrency', '1'], {
    signal: interrupt.signal,
    out: {
      log: (line) => { if (line.startsWith('game 1: gzip')) interrupt.abort(new Error('interrupted')) },
      error: () => {}
    }
  })
  t.equal(stopped.code, 130)
  t.same((await games.findReplayWithVariants('1'))?.variants.map((v) => v.encoding), ['gzip'], 'only what was verified before the interruption')
  t.same((await games.findReplayWithVariants('2'))?.variants, [])

  const next = await cli(['--all', '--encodings', 'gzip,br'])
  t.equal(next.code, 0, next.stderr)
  t.match(next.stdout, /Done: 3 game\(s\), 5 variant\(s\) made/)
  for (const id of ['1', '2', '3']) t.same((await games.findReplayWithVariants(id))?.variants.map((v) => v.encoding).sort(), ['br', 'gzip'])
  const overwritten = await read(bucket.admin, bucket.s3.bucket, 'season-1/game-3/replay.json.variant-gzip')
  t.equal(sha256(await decode('gzip', overwritten.body)), sha256(replay(3)), 'the leftover was replaced by a verified variant')
})

t.test('zstd: made where the runtime has it, refused by name where it has not', async (t) => {
  const { games, cli } = await setUp(t, [{ id: '1', game_folder: 'g', replay_file: 'r.json', body: replay(1) }])
  const refused = await cli(['1', '--encodings', 'zstd'], { zstd: undefined })
  t.equal(refused.code, 2)
  t.match(refused.stderr, /^replays:compress: zstd needs Node 22\.15 or later \(this is Node v\d+\.\d+\.\d+, whose zlib has no zstd\); leave it out of --encodings/)
  const defaults = await cli(['1', '--dry-run'], { zstd: undefined })
  t.match(defaults.stdout, /game 1: gzip → \S+; br → \S+$/m, 'the default list leaves zstd out where there is none')
  const run = await cli(['1', '--encodings', 'zstd', '--level', 'zstd=3'])
  if (zstd === undefined) {
    t.equal(run.code, 2)
    t.match(run.stderr, /zstd needs Node 22\.15 or later/)
  } else {
    t.equal(run.code, 0, run.stderr)
    t.same((await games.findReplayWithVariants('1'))?.variants.map((v) => v.encoding), ['zstd'])
  }
})

t.test('bad usage exits 2 with the usage; --help exits 0', async (t) => {
  const { cli } = await setUp(t, [])
  const cases: Array<[string[], RegExp]> = [
    [[], /say which games: --all, or their ids/],
    [['--all', '3'], /either --all or game ids, not both/],
    [['abc'], /"abc" is not a game id/],
    [['--all', '--encodings', 'gzip,deflate'], /--encodings: "deflate" is not one of gzip, br, zstd/],
    [['--all', '--encodings', ' , '], /--encodings names no coding/],
    [['--all', '--level', 'gzip=10'], /--level: gzip takes a level from 1 to 9; got "10"/],
    [['--all', '--encodings', 'gzip,br', '--level', '11'], /--level: gzip takes a level from 1 to 9; got "11"/],
    [['--all', '--level', 'lz4=3'], /--level: "lz4" is not one of/],
    [['--all', '--level', 'gzip:3'], /--level: "gzip:3" is neither a level nor CODING=LEVEL/],
    [['--all', '--concurrency', '0'], /--concurrency takes a whole number from 1 to 16; got "0"/],
    [['--all', '--fast'], /Unknown option '--fast'/]
  ]
  for (const [args, message] of cases) {
    const run = await cli(args)
    t.equal(run.code, 2, args.join(' '))
    t.match(run.stderr, message)
    t.match(run.stderr, /\nUsage: npm run replays:compress/)
  }
  const help = await cli(['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /^Usage: npm run replays:compress -- \(--all \| ID\.\.\.\) \[options\]/)
})

t.test('settings: DATABASE_URL and S3_BUCKET are both named when missing; a bad one is named', async (t) => {
  const out = { stdout: [] as string[], stderr: [] as string[] }
  const code = await runReplaysCompress({ args: ['--all'], env: { S3_BUKET: 'replays' }, out: { log: (l) => out.stdout.push(l), error: (l) => out.stderr.push(l) } })
  t.equal(code, 1)
  t.match(out.stderr.join('\n'), /^replays:compress failed: Invalid configuration:\n {2}- DATABASE_URL is not set: it names the PostgreSQL database[^\n]*\n {2}- S3_BUCKET is not set \(S3_BUKET is set: did you mean S3_BUCKET\?\): it names the bucket/)
  out.stderr.length = 0
  t.equal(await runReplaysCompress({ args: ['--all'], env: { DATABASE_URL: 'mysql://x', S3_BUCKET: 'replays' }, out: { log: () => {}, error: (l) => out.stderr.push(l) } }), 1)
  t.match(out.stderr.join('\n'), /DATABASE_URL must be a URL starting with postgres:\/\/ or postgresql:\/\//)
  t.notMatch(out.stderr.join('\n'), /DATABASE_URL is not set/)
})

t.test('a database that fails while the games are paged ends the run with its error', async (t) => {
  const { db, cli } = await setUp(t, three())
  class FailingLater extends GamesRepository {
    calls = 0
    override async replaysToCompress (...args: Parameters<GamesRepository['replaysToCompress']>): ReturnType<GamesRepository['replaysToCompress']> {
      if (++this.calls > 1) throw new Error('Connection terminated unexpectedly')
      return await super.replaysToCompress(...args)
    }
  }
  const run = await cli(['--all'], { openGames: async () => ({ db, games: new FailingLater(db), pool: undefined, close: async () => {} }) })
  t.equal(run.code, 1)
  t.match(run.stderr, /^replays:compress failed: Connection terminated unexpectedly$/m)
  const missing = { ...DEFAULT_GAMES_TABLE, table: 'no_such_schema.games' }
  const early = await cli(['--all'], { openGames: async () => ({ db, games: new GamesRepository(db, missing), pool: undefined, close: async () => {} }) })
  t.equal(early.code, 1)
  t.match(early.stderr, /replays:compress failed: GAMES_TABLE no_such_schema\.games does not exist/)
})

t.test('on a terminal: a progress bar, then the summary; failures and skips are still said', async (t) => {
  const { cli } = await setUp(t, [...three(), { id: '4', game_folder: 'g4', replay_file: 'gone.json' }, { id: '5', game_folder: 'g5', replay_file: 'r.json', body: '{}' }])
  let drawn = ''
  const terminal = { isTTY: true, columns: 160, write: (text: string) => { drawn += text; return true } }
  const run = await cli(['--all', '--encodings', 'gzip'], { progress: terminal })
  t.equal(run.code, 1)
  t.match(drawn, /replays:compress \S+ 5\/5 games \| \d+\.\d KiB read \| \d+\.\d+ (KiB|MiB)\/s \| ETA \d+s \| 1 failed/)
  t.notMatch(run.stdout, /game 1: gzip/, 'no line per variant under the bar')
  t.match(run.stdout, /game 5: gzip skipped/)
  t.match(run.stdout, /Done: 5 game\(s\), 3 variant\(s\) made, 1 skipped \(not smaller\), 1 failed/)
  t.match(run.stderr, /^Failed \(1\):\n {2}game 4: the replay object g4\/gone\.json is missing/)
})
