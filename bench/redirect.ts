// The redirect's cost, side by side in one run: signing with getSignedUrl and
// with the service's signer; the service's 302 (lookup cached) against Fastify
// answering a constant 302; and the uncached lookup on 1,000 and 1,000,000 games.
import { GetObjectCommand } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import autocannon from 'autocannon'
import { spawn } from 'node:child_process'
import pg from 'pg'
import { attachment } from '../src/replay/download-name.js'
import { ReplayStorage } from '../src/storage/replay-storage.js'
import { UrlSigner } from '../src/storage/url-signer.js'
import { freePort, machine, median, openBenchDatabase, openBenchS3, startService, type BenchS3, type Service } from './support.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const DURATION = Number(process.env.BENCH_SECONDS ?? 5)
const CONNECTIONS = 50

interface Load { rps: number, p99: number, errors: number }

async function load (url: string, paths?: () => string): Promise<Load> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION,
    ...(paths !== undefined && { requests: [{ setupRequest: (request) => ({ ...request, path: paths() }) }] })
  })
  const answered = result['3xx']
  const errors = result.errors + result.timeouts + result['1xx'] + result['2xx'] + result['4xx'] + result['5xx']
  return { rps: answered / result.duration, p99: result.latency.p99, errors }
}

function summary (runs: Load[]): Load {
  return { rps: median(runs.map((r) => r.rps)), p99: median(runs.map((r) => r.p99)), errors: runs.reduce((n, r) => n + r.errors, 0) }
}

/** Microseconds per URL: getSignedUrl against the project's signer, interleaved. */
async function presignCost (s3: BenchS3): Promise<{ sdk: number, ours: number, reused: number }> {
  const storage = new ReplayStorage({
    s3: { bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, publicEndpoint: s3.endpoint, forcePathStyle: true, keyPrefix: '', connectTimeoutMs: 1000, firstByteTimeoutMs: 1000 },
    presignTtlSeconds: 300,
    presignReuseSeconds: 60,
    credentials: s3.credentials
  })
  const { client } = s3
  const signer = new UrlSigner(client, s3.bucket)
  const contentDisposition = attachment('game-42.replay.fafreplay', 'game-42.replay.fafreplay')
  const object = { key: 'season-1/game-42/replay.fafreplay', contentDisposition, contentType: 'application/octet-stream' }
  const perUrl = async (count: number, one: (i: number) => Promise<unknown>): Promise<number> => {
    const started = performance.now()
    for (let i = 0; i < count; i++) await one(i)
    return (performance.now() - started) * 1000 / count
  }
  const date = (i: number): Date => new Date(1_780_000_000_000 + i * 1000)
  const sdk = async (i: number): Promise<string> => await getSignedUrl(client, new GetObjectCommand({
    Bucket: s3.bucket, Key: object.key, ResponseContentDisposition: contentDisposition, ResponseContentType: object.contentType
  }), { signingDate: date(i), expiresIn: 360 })
  const ours = async (i: number): Promise<string> => await signer.sign({ ...object, signingDate: date(i), expiresInSeconds: 360 })
  const reused = async (): Promise<unknown> => await storage.presign(object)
  await perUrl(2000, sdk); await perUrl(20_000, ours); await perUrl(20_000, reused) // warm-up
  const runs = { sdk: [] as number[], ours: [] as number[], reused: [] as number[] }
  for (let round = 0; round < 5; round++) {
    runs.sdk.push(await perUrl(2000, sdk))
    runs.ours.push(await perUrl(20_000, ours))
    runs.reused.push(await perUrl(20_000, reused))
  }
  storage.close()
  return { sdk: median(runs.sdk), ours: median(runs.ours), reused: median(runs.reused) }
}

async function startConstant (location: string): Promise<{ url: string, stop: () => Promise<void> }> {
  const port = await freePort()
  const child = spawn(process.execPath, [new URL('constant-302.mjs', import.meta.url).pathname, String(port), location], { stdio: ['ignore', 'inherit', 'inherit'] })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${url}/healthz`)).ok) break } catch {}
    if (i > 300) throw new Error('the constant 302 server did not start')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { url, stop: async () => { child.kill('SIGTERM'); await new Promise((resolve) => child.once('exit', resolve)) } }
}

async function fillGames (url: string, count: number): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query(`INSERT INTO games (id, game_folder, replay_file)
    SELECT i, 'season-' || (i % 97) || '/game-' || i, 'replay-' || i || '.fafreplay' FROM generate_series(1, $1::bigint) AS i`, [count])
  await client.query('ANALYZE games')
  // The question is how lookups scale with the table, not how fast a disk is: load it into shared buffers.
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_prewarm')
    await client.query("SELECT pg_prewarm('games'), pg_prewarm('games_pkey')")
  } catch (error) {
    console.log(`(pg_prewarm unavailable, the table is read cold: ${(error as Error).message})`)
  }
  await client.end()
}

async function main (): Promise<void> {
  const s3 = await openBenchS3()
  const services: Array<{ stop: () => Promise<void> }> = []
  const databases: Array<{ close: () => Promise<void> }> = []
  try {
    const serviceEnv = (databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> => ({
      DATABASE_URL: databaseUrl,
      S3_BUCKET: s3.bucket,
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      ...extra
    })
    const small = await openBenchDatabase([])
    databases.push(small)
    await fillGames(small.url, 1000)
    const large = await openBenchDatabase([])
    databases.push(large)
    await fillGames(large.url, 1_000_000)
    console.log(`redirect benchmark: ${s3.description}; ${small.description.replace(/ \(.*/, '')}; ${machine()}; autocannon ${CONNECTIONS} connections, ${DURATION} s runs, median of ${ROUNDS} rounds`)

    const cost = await presignCost(s3)

    const cached = await startService(serviceEnv(small.url))
    services.push(cached)
    const location = (await fetch(`${cached.url}/games/42/replay`, { redirect: 'manual' })).headers.get('location') ?? ''
    const constant = await startConstant(location)
    services.push(constant)
    let next = 0
    const everyGame = (): string => `/games/${(next++ % 1000) + 1}/replay`
    await load(`${cached.url}/games/42/replay`); await load(`${constant.url}/games/42/replay`) // warm-up
    const hot: Load[] = []
    const spread: Load[] = []
    const yardstick: Load[] = []
    const yardstickSpread: Load[] = []
    for (let round = 0; round < ROUNDS; round++) {
      yardstick.push(await load(`${constant.url}/games/42/replay`))
      hot.push(await load(`${cached.url}/games/42/replay`))
      // A path made per request costs autocannon (on the same cores) more: both sides pay it.
      yardstickSpread.push(await load(constant.url, everyGame))
      spread.push(await load(cached.url, everyGame))
    }

    const coldService = async (url: string): Promise<Service> => {
      // Nothing cached: every request is looked up and signed.
      const service = await startService(serviceEnv(url, { LOOKUP_CACHE_SIZE: '0', PRESIGN_REUSE_SECONDS: '0' }))
      services.push(service)
      return service
    }
    const coldSmall = await coldService(small.url)
    const coldLarge = await coldService(large.url)
    const random = (games: number) => (): string => `/games/${1 + Math.floor(Math.random() * games)}/replay`
    await load(coldSmall.url, random(1000)); await load(coldLarge.url, random(1_000_000)) // warm-up: pools, plans, pages
    const cold1k: Load[] = []
    const cold1m: Load[] = []
    for (let round = 0; round < ROUNDS; round++) {
      cold1k.push(await load(coldSmall.url, random(1000)))
      cold1m.push(await load(coldLarge.url, random(1_000_000)))
    }

    const row = (name: string, l: Load): string =>
      `  ${name.padEnd(52)} ${l.rps.toFixed(0).padStart(7)}   ${l.p99.toFixed(1).padStart(6)}   ${String(l.errors).padStart(6)}`
    console.log('\npresign, µs per URL (median of 5 interleaved rounds)')
    console.log(`  getSignedUrl (@aws-sdk/s3-request-presigner)          ${cost.sdk.toFixed(1).padStart(7)}`)
    console.log(`  UrlSigner (@smithy/signature-v4, prepared request)    ${cost.ours.toFixed(1).padStart(7)}`)
    console.log(`  ReplayStorage.presign, URL reused within its window   ${cost.reused.toFixed(2).padStart(7)}`)
    console.log('\nGET /games/:id/replay                                      req/s   p99 ms   non-302')
    const y = summary(yardstick)
    const ys = summary(yardstickSpread)
    const h = summary(hot)
    const s = summary(spread)
    const c1 = summary(cold1k)
    const c2 = summary(cold1m)
    console.log(row('constant 302 (Fastify, nothing looked up or signed)', y))
    console.log(row('replay-gate, one game (lookup cached, URL reused)', h))
    console.log(row('constant 302, 1,000 paths in turn', ys))
    console.log(row('replay-gate, 1,000 games in turn (lookups cached)', s))
    console.log(row('replay-gate, nothing cached, random of 1,000 games', c1))
    console.log(row('replay-gate, nothing cached, random of 1,000,000 games', c2))
    const ratio = (a: number, b: number): string => (a / b).toFixed(2).padStart(6)
    console.log('\nratios                                                     value   target')
    console.log(`  presign: getSignedUrl ÷ UrlSigner (times cheaper)       ${ratio(cost.sdk, cost.ours)}   ≥ 10`)
    console.log(`  redirect req/s ÷ constant 302 req/s (one game)          ${ratio(h.rps, y.rps)}   ≥ 0.5`)
    console.log(`  redirect req/s ÷ constant 302 req/s (1,000 games)       ${ratio(s.rps, ys.rps)}   ≥ 0.5`)
    console.log(`  cold p99, 1,000,000 games ÷ 1,000 games                 ${ratio(c2.p99, c1.p99)}   ≤ 1.5`)
  } finally {
    for (const service of services.reverse()) await service.stop()
    for (const database of databases) await database.close()
    await s3.close()
  }
}

await main()
