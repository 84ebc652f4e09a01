// `npm run replays:compress` as its own process, as an operator runs it: on
// PostgreSQL (the machine's own, or TEST_DATABASE_URL) and the test's bucket.
// A SIGINT mid-run records nothing half-made; a 200 MiB replay is compressed
// with its peak memory far below its size.
import { Upload } from '@aws-sdk/lib-storage'
import t from 'tap'
import { generateReplay, generateReplayText, ticksFor } from '../../bench/replay-generator.js'
import { GamesRepository } from '../../src/db/games.js'
import { MACHINE_POSTGRES, createPostgresDatabase, openTestBucket, postgresMissing, requireRealPart, type Tap } from '../helper.js'
import { spawnEntry } from '../support/spawn-service.js'

const MiB = 1024 * 1024
const ENTRY = 'cli/replays-compress.ts'
// Preloaded into the command (NODE_OPTIONS=--import): at exit it prints the process's peak resident set size,
// and the peak of the memory its Buffers and zlib streams hold (`external`, sampled every 10 ms), in KiB.
const PRINT_PEAK_MEMORY = `data:text/javascript;base64,${Buffer.from(`
let external = 0
setInterval(() => { external = Math.max(external, process.memoryUsage().external) }, 10).unref()
process.on('exit', () => { process.stderr.write('max-rss-kib ' + process.resourceUsage().maxRSS + ' max-external-kib ' + Math.round(external / 1024) + '\\n') })
`).toString('base64')}`

t.test('the entry point: --help, bad usage, and the settings it needs', async (t) => {
  const help = spawnEntry(ENTRY, {}, ['--help'])
  t.match(await help.exited, { code: 0 })
  t.match(help.stdout(), /^Usage: npm run replays:compress/)
  const bad = spawnEntry(ENTRY, {}, ['--all', '--levels', '3'])
  t.match(await bad.exited, { code: 2 })
  t.match(bad.stderr(), /^replays:compress: Unknown option '--levels'[\s\S]*Usage:/)
  const unset = spawnEntry(ENTRY, {}, ['--all'])
  t.match(await unset.exited, { code: 1 })
  t.match(unset.stderr(), /DATABASE_URL is not set[\s\S]*S3_BUCKET is not set/)
})

interface Backends { games: GamesRepository, env: Record<string, string>, put: (key: string, body: string) => Promise<void>, upload: (key: string, body: NodeJS.ReadableStream) => Promise<void> }

async function backends (t: Tap): Promise<Backends | undefined> {
  if (requireRealPart(t as Tap & { fail: (m: string) => void }, 'replays:compress as its own process', await postgresMissing(MACHINE_POSTGRES)) !== false) return undefined
  const [{ db, url }, bucket] = await Promise.all([createPostgresDatabase(t, MACHINE_POSTGRES), openTestBucket(t)])
  return {
    games: new GamesRepository(db),
    env: {
      DATABASE_URL: url,
      S3_BUCKET: bucket.s3.bucket,
      S3_ENDPOINT: bucket.s3.endpoint as string,
      S3_REGION: bucket.s3.region,
      AWS_ACCESS_KEY_ID: bucket.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: bucket.credentials.secretAccessKey
    },
    put: bucket.put,
    upload: async (key, body) => {
      await new Upload({ client: bucket.admin, params: { Bucket: bucket.s3.bucket, Key: key, Body: body as never, ContentType: 'application/json' }, partSize: 8 * MiB, queueSize: 2 }).done()
    }
  }
}

t.test('SIGINT mid-run: exit 130, the game in hand unrecorded; the next run finishes', async (t) => {
  const setup = await backends(t)
  if (setup === undefined) return
  const { games, env, put } = setup
  await games.insert(['1', '2', '3'].map((id) => ({ id, game_folder: `games/${id}`, replay_file: 'replay.json' })))
  for (const id of ['1', '2', '3']) await put(`games/${id}/replay.json`, generateReplayText({ ticks: 200, seed: Number(id) }))
  const args = ['--all', '--encodings', 'gzip,br', '--concurrency', '1']

  const run = spawnEntry(ENTRY, env, args)
  await run.waitFor(/^game 1: gzip /m)
  run.child.kill('SIGINT')
  t.match(await run.exited, { code: 130 }, run.stderr())
  t.match(run.stdout(), /Interrupted after \d game\(s\), \d variant\(s\) made/)
  const recorded = async (): Promise<string[]> => (await Promise.all(['1', '2', '3'].map(async (id) =>
    ((await games.findReplayWithVariants(id))?.variants ?? []).map((v) => `${id}:${v.encoding}`)))).flat().sort()
  const early = await recorded()
  t.ok(early.includes('1:gzip') && early.length < 6, `some recorded, not all: ${early.join(' ')}`)
  t.notOk(early.some((entry) => entry.startsWith('3:')), 'nothing for the last game')

  const rerun = spawnEntry(ENTRY, env, args)
  t.match(await rerun.exited, { code: 0 }, rerun.stderr())
  t.match(rerun.stdout(), new RegExp(`Done: \\d game\\(s\\), ${6 - early.length} variant\\(s\\) made`))
  t.same(await recorded(), ['1:br', '1:gzip', '2:br', '2:gzip', '3:br', '3:gzip'])
})

t.test('a 200 MiB replay, streamed: peak memory stays far below its size', async (t) => {
  const setup = await backends(t)
  if (setup === undefined) return
  const { games, env, upload } = setup
  await games.insert([{ id: '1', game_folder: 'big', replay_file: 'replay.json' }])
  // Made as it is uploaded: the test holds no more of it than the upload's parts.
  await upload('big/replay.json', generateReplay({ ticks: ticksFor(200 * MiB) }))

  const started = performance.now()
  const run = spawnEntry(ENTRY, { ...env, NODE_OPTIONS: `--import=${PRINT_PEAK_MEMORY}` }, ['1', '--encodings', 'gzip', '--level', '1'])
  t.match(await run.exited, { code: 0 }, run.stderr())
  const seconds = (performance.now() - started) / 1000
  const peak = Number(/max-rss-kib (\d+)/.exec(run.stderr())?.[1]) / 1024
  const external = Number(/max-external-kib (\d+)/.exec(run.stderr())?.[1]) / 1024
  const [variant] = (await games.findReplayWithVariants('1'))?.variants ?? []
  t.comment(`200 MiB replay, gzip 1: ${seconds.toFixed(1)} s, peak RSS ${peak.toFixed(0)} MiB, peak external ${external.toFixed(0)} MiB, variant ${((variant?.size ?? 0) / MiB).toFixed(1)} MiB`)
  t.match(run.stdout(), /game 1: gzip 20\d\.\d\d MiB → \d+\.\d\d MiB/)
  t.ok(variant !== undefined && variant.size > 5 * MiB, 'recorded; larger than one part, so uploaded in parts')
  // The replay's bytes pass through Buffers and zlib: held whole, they alone would be 200 MiB there. Seen: 60-76 MiB.
  t.ok(external > 0 && external < 128, `peak external memory ${external.toFixed(0)} MiB is below 128 MiB`)
  // The process's RSS: the above, the heap (35 MiB), code, and what the allocator keeps of what zlib freed, which
  // varies with the machine's state (140-270 MiB seen for the same run). Bounded below two copies of the replay.
  t.ok(peak > 0 && peak < 400, `peak RSS ${peak.toFixed(0)} MiB is below 400 MiB`)
})
