// Compressed variants, side by side in one run:
//  - a generated replay (bench/replay-generator.ts, about 40 MiB) made into
//    each variant at the levels replays:compress uses by default: its size
//    as a ratio to the replay's, and the time to make it;
//  - what a page gains: in Chromium, throttled to 50 Mbit/s down and 20 ms
//    (CDP Network.emulateNetworkConditions), the time from fetch (following
//    the service's 302 to S3) to a parsed replay, the replay itself against
//    the variant the service hands out. Over plain http to a name that is not
//    loopback (Chromium then sends `gzip, deflate`: gzip), and over https,
//    through TLS fronts to the service and to S3 (br, or zstd where the
//    runtime makes it). Target: the variant at least 6 times faster;
//  - what recorded variants cost the redirect: its requests per second for
//    games with variants against games without, with a browser's
//    Accept-Encoding, on one game and on 1,000 in turn. Target: 0.95 or more.
// Exits 1 when a target is missed.
//   BENCH_ROUNDS (12) and BENCH_SECONDS (1): the redirect's rounds and their length;
//   BENCH_BROWSER_ROUNDS (4): the browser's rounds;
//   BENCH_REPLAY_MIB (unset: the generator's default replay, 40.5 MiB);
//   CHROMIUM_PATH (/usr/bin/chromium)
import { PutObjectCommand } from '@aws-sdk/client-s3'
import autocannon from 'autocannon'
import { createHash } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import { existsSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { cpus } from 'node:os'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { chromium, type Page } from 'playwright-core'
import { openDatabase } from '../src/db/database.js'
import type { VariantRecord } from '../src/db/games.js'
import type { ContentCoding } from '../src/model/replay-object.js'
import { replayKey, variantKey } from '../src/replay/replay-key.js'
import { codecFor, defaultCodings, DEFAULT_LEVELS, runtimeZstd } from '../src/variants/encodings.js'
import { selfSignedCertificate, startFront, type Front } from './front.js'
import { DEFAULT_SHAPE, generateReplayText } from './replay-generator.js'
import { cpuSeconds, MiB, machine, median, onCleanup, openBenchDatabase, openBenchS3, pairedRatio, printTargets, roundRatios, runBench, serviceSettings, startService, target, type Service } from './support.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12)
const DURATION = Number(process.env.BENCH_SECONDS ?? 1)
const BROWSER_ROUNDS = Number(process.env.BENCH_BROWSER_ROUNDS ?? 4)
const REPLAY_MIB = process.env.BENCH_REPLAY_MIB === undefined ? undefined : Number(process.env.BENCH_REPLAY_MIB)
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
// As test/browser/cross-origin.test.ts launches it; without the background-networking flags Chromium keeps trying to reach Google's hosts.
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
/** 50 Mbit/s down, 20 ms: a good home line. */
const THROTTLE = { offline: false, latency: 20, downloadThroughput: 50e6 / 8, uploadThroughput: -1 }
/** What Chromium and Firefox send over https and to loopback (../shared/FACTS.md). */
const BROWSER_ACCEPT_ENCODING = 'gzip, deflate, br, zstd'
const CONNECTIONS = 50
/** Games 1..GAMES have variants recorded; GAMES + 1..2 × GAMES name the same objects and have none. */
const GAMES = 1000
const SERVICE_NAME = 'service.test'
const S3_NAME = 's3.test'

const cpuModel = (): string => cpus()[0]?.model.trim() ?? 'unknown CPU'
const fixed = (value: number, digits = 2, width = 7): string => value.toFixed(digits).padStart(width)
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

interface Made { encoding: ContentCoding, level: number, body: Buffer, seconds: number }

/** Each coding replays:compress makes by default, at its default level, one thread, as node:zlib's streams make it; checked by decoding it again. */
async function makeVariants (replay: Buffer): Promise<Made[]> {
  const zstd = runtimeZstd()
  const made: Made[] = []
  const chunks = async function * (): AsyncGenerator<Buffer> { for (let at = 0; at < replay.length; at += MiB) yield replay.subarray(at, at + MiB) }
  const identity = sha256(replay)
  for (const encoding of defaultCodings(zstd)) {
    const codec = codecFor(encoding, zstd)
    if (codec === undefined) continue
    const level = DEFAULT_LEVELS[encoding]
    const parts: Buffer[] = []
    const started = performance.now()
    await pipeline(chunks, codec.compress(level, replay.length), new Writable({ write (chunk: Buffer, _encoding, done) { parts.push(chunk); done() } }))
    const seconds = (performance.now() - started) / 1000
    const body = Buffer.concat(parts)
    const decoded = createHash('sha256')
    await pipeline(async function * () { yield body }, codec.decompress(), new Writable({ write (chunk: Buffer, _encoding, done) { decoded.update(chunk); done() } }))
    if (decoded.digest('hex') !== identity) throw new Error(`${encoding} ${level}: decoded, not the replay`)
    made.push({ encoding, level, body, seconds })
  }
  return made.sort((a, b) => a.body.length - b.body.length)
}

interface Fetched {
  ms: number
  /** What the browser asked the service and S3 for, and what S3 sent, as the fronts saw it. */
  askedService: string
  askedS3: string
  encoding: string
  wireBytes: number
}

/** One fetch from the page, through the 302, to a parsed replay; checked against the replay's length and tick count. */
async function fetchAndParse (tab: Page, fronts: { service: Front, s3: Front }, path: string, expected: { length: number, ticks: number }): Promise<Fetched> {
  fronts.service.exchanges.length = 0
  fronts.s3.exchanges.length = 0
  const result = await tab.evaluate(async (url) => {
    // Nothing from the HTTP cache (Node's types for fetch leave `cache` out).
    const init: Record<string, unknown> = { cache: 'no-store' }
    const started = performance.now()
    const answer = await fetch(url, init)
    const text = await answer.text()
    const replay = JSON.parse(text) as { ticks?: unknown[] }
    const ms = performance.now() - started
    return { ms, status: answer.status, redirected: answer.redirected, length: text.length, ticks: replay.ticks?.length ?? -1 }
  }, `${fronts.service.origin}${path}`)
  const toService = fronts.service.exchanges.find((e) => e.url === path)
  const toS3 = fronts.s3.exchanges.find((e) => e.method === 'GET')
  if (result.status !== 200 || !result.redirected || result.length !== expected.length || result.ticks !== expected.ticks || toService === undefined || toS3 === undefined) {
    throw new Error(`${fronts.service.origin}${path}: ${JSON.stringify({ ...result, toService, toS3, expected })}`)
  }
  return { ms: result.ms, askedService: toService.acceptEncoding ?? '(none)', askedS3: toS3.acceptEncoding ?? '(none)', encoding: toS3.contentEncoding ?? 'identity', wireBytes: toS3.bytes }
}

interface Load { rps: number, errors: number, cpuMicroseconds: number }

/**
 * autocannon against one service, `paths` in turn: 302s a second, every other
 * answer or error, and the service's CPU time per 302 (a figure that another
 * load on the machine moves far less than the rate).
 */
async function load (service: Service, paths: () => string): Promise<Load> {
  const pid = service.child.pid as number
  const cpuBefore = await cpuSeconds([pid])
  const instance = autocannon({
    url: service.url,
    connections: CONNECTIONS,
    duration: DURATION,
    headers: { 'accept-encoding': BROWSER_ACCEPT_ENCODING },
    requests: [{ setupRequest: (request) => ({ ...request, path: paths() }) }]
  }) as Promise<autocannon.Result> & EventEmitter
  const result = await instance
  const cpu = await cpuSeconds([pid]) - cpuBefore
  const errors = result.errors + result.timeouts + result['1xx'] + result['2xx'] + result['4xx'] + result['5xx']
  return { rps: result['3xx'] / result.duration, errors, cpuMicroseconds: cpu * 1e6 / result['3xx'] }
}

/** The Location of the service's 302 for `path`, with a browser's Accept-Encoding. */
async function location (base: string, path: string, acceptEncoding: string): Promise<URL> {
  return await new Promise((resolve, reject) => {
    httpRequest(`${base}${path}`, { headers: { 'accept-encoding': acceptEncoding } }, (res) => {
      res.resume()
      if (res.statusCode !== 302 || res.headers.location === undefined) reject(new Error(`${path}: ${res.statusCode ?? 0} without a Location`))
      else resolve(new URL(res.headers.location))
    }).on('error', reject).end()
  })
}

async function main (): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium package (or set CHROMIUM_PATH)`)
  const ticks = REPLAY_MIB === undefined ? DEFAULT_SHAPE.ticks : Math.round(DEFAULT_SHAPE.ticks * REPLAY_MIB / 40.53)
  const replay = Buffer.from(generateReplayText({ ticks }))
  const replayMiB = replay.length / MiB
  console.log(`compressed variants benchmark: ${machine()}, ${cpuModel()}`)
  console.log(`replay: ${replayMiB.toFixed(2)} MiB, generated (${ticks} ticks × ${DEFAULT_SHAPE.players} players × ${DEFAULT_SHAPE.unitsPerPlayer} units)`)

  // a. Sizes and times at replays:compress's default levels.
  const made = await makeVariants(replay)
  console.log('\nvariants at replays:compress\'s default levels (node:zlib, one thread)')
  console.log('  encoding  level   size MiB   identity ÷ variant   seconds to make')
  console.log(`  identity      -   ${fixed(replayMiB, 2, 8)}   ${fixed(1, 1, 17)}×                 -`)
  for (const { encoding, level, body, seconds } of made) {
    console.log(`  ${encoding.padEnd(8)}  ${String(level).padStart(5)}   ${fixed(body.length / MiB, 2, 8)}   ${fixed(replay.length / body.length, 1, 17)}×   ${fixed(seconds, 2, 15)}`)
  }
  if (runtimeZstd() === undefined) console.log(`  zstd: not made, this runtime's zlib has none (Node ${process.version}; zstd is in node:zlib from 22.15)`)

  // The backends: one bucket, one database; game 1 has the replay and its variants, game GAMES + 1 the same replay without.
  const s3 = await openBenchS3()
  const games = Array.from({ length: 2 * GAMES }, (_, i) => ({ id: String(i + 1), game_folder: `g${(i % GAMES) + 1}`, replay_file: 'replay.json' }))
  const database = await openBenchDatabase(games)
  console.log(`backends: ${s3.description}; ${database.description.replace(/ \(.*/, '')}`)
  const identityKey = replayKey('', 'g1', 'replay.json')
  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: identityKey, Body: replay, ContentType: 'application/json' }))
  for (const { encoding, body } of made) {
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: variantKey(identityKey, encoding), Body: body, ContentType: 'application/json', ContentEncoding: encoding }))
  }
  // Games 2..GAMES get the same records for their own keys (the redirect never reads S3, so those objects need not exist).
  const { games: repository, close } = await openDatabase({ postgres: { url: database.url, timeoutMs: 60_000 } })
  const identitySha256 = sha256(replay)
  const records: VariantRecord[] = []
  for (let game = 1; game <= GAMES; game++) {
    const key = replayKey('', `g${game}`, 'replay.json')
    for (const { encoding, body } of made) {
      records.push({ gameId: String(game), encoding, key: variantKey(key, encoding), size: body.length, identityKey: key, identitySize: replay.length, identityEtag: undefined, identitySha256 })
    }
  }
  for (let at = 0; at < records.length; at += 20) await Promise.all(records.slice(at, at + 20).map(async (record) => { await repository.recordVariant(record) }))
  await close()

  // b. Chromium, over plain http and over https.
  const certificate = await selfSignedCertificate([SERVICE_NAME, S3_NAME])
  const s3Plain = await startFront({ target: s3.endpoint, name: S3_NAME })
  const s3Tls = await startFront({ target: s3.endpoint, name: S3_NAME, certificate })
  // Load shedding off: on a shared machine a pause of the event loop would turn a run's requests into 503s.
  const settings = { ...serviceSettings(s3, database.url), S3_FORCE_PATH_STYLE: 'true', PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0' }
  const plainService = await startService({ ...settings, S3_PUBLIC_ENDPOINT: s3Plain.origin })
  const secureService = await startService({ ...settings, S3_PUBLIC_ENDPOINT: s3Tls.origin })
  const modes = [
    { name: 'http', fronts: { service: await startFront({ target: plainService.url, name: SERVICE_NAME, page: true }), s3: s3Plain }, expected: 'gzip' },
    // The smallest variant made: a browser accepts each of them over https.
    { name: 'https', fronts: { service: await startFront({ target: secureService.url, name: SERVICE_NAME, certificate, page: true }), s3: s3Tls }, expected: made[0]?.encoding ?? 'identity' }
  ]
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_FLAGS, '--host-resolver-rules=MAP *.test 127.0.0.1', '--ignore-certificate-errors'] })
  const closeBrowser = onCleanup(async () => { await browser.close() })
  const tabs = new Map<string, Page>()
  for (const mode of modes) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true })
    const tab = await context.newPage()
    const cdp = await context.newCDPSession(tab)
    await cdp.send('Network.enable')
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true })
    await tab.goto(`${mode.fronts.service.origin}/`)
    await cdp.send('Network.emulateNetworkConditions', THROTTLE)
    tabs.set(mode.name, tab)
  }
  const expected = { length: replay.length, ticks }
  type Kind = 'identity' | 'variant'
  const cases = modes.flatMap((mode) => (['identity', 'variant'] as Kind[]).map((kind) => ({ mode, kind, path: `/games/${kind === 'variant' ? 1 : GAMES + 1}/replay` })))
  const fetched = new Map<string, Fetched[]>(cases.map(({ mode, kind }) => [`${mode.name} ${kind}`, []]))
  // Warm-up: each page's connections and code, on the small download.
  for (const { mode, path } of cases.filter((c) => c.kind === 'variant')) await fetchAndParse(tabs.get(mode.name) as Page, mode.fronts, path, expected)
  for (let round = 0; round < BROWSER_ROUNDS; round++) {
    for (const { mode, kind, path } of round % 2 === 0 ? cases : [...cases].reverse()) {
      fetched.get(`${mode.name} ${kind}`)?.push(await fetchAndParse(tabs.get(mode.name) as Page, mode.fronts, path, expected))
    }
  }
  const version = browser.version()
  await closeBrowser()
  console.log(`\nChromium ${version}, ${THROTTLE.downloadThroughput * 8 / 1e6} Mbit/s down and ${THROTTLE.latency} ms (CDP Network.emulateNetworkConditions): fetch, through the 302, to JSON.parse; median of ${BROWSER_ROUNDS} interleaved rounds`)
  console.log(`  ${'page, replay'.padEnd(32)}  ${'sent to the service'.padEnd(24)}  S3 sent   MiB sent   median s   Mbit/s   each round s`)
  let wrong = 0
  for (const { mode, kind } of cases) {
    const runs = fetched.get(`${mode.name} ${kind}`) ?? []
    const first = runs[0] as Fetched
    const want = kind === 'identity' ? 'identity' : mode.expected
    wrong += runs.filter((run) => run.encoding !== want).length
    const seconds = median(runs.map((run) => run.ms)) / 1000
    const mbits = median(runs.map((run) => run.wireBytes * 8 / run.ms / 1000))
    console.log(`  ${`${mode.fronts.service.origin.replace(/:\d+$/, '')}, ${kind}`.padEnd(32)}  ${first.askedService.padEnd(24)}  ${first.encoding.padEnd(8)}  ${fixed(first.wireBytes / MiB, 2, 8)}   ${fixed(seconds, 2, 8)}   ${fixed(mbits, 1, 6)}   ${runs.map((run) => (run.ms / 1000).toFixed(2)).join(' ')}`)
  }
  for (const mode of modes) {
    const identity = (fetched.get(`${mode.name} identity`) ?? []).map((run) => run.ms)
    const variant = (fetched.get(`${mode.name} variant`) ?? []).map((run) => run.ms)
    console.log(`  ${mode.name}: identity ÷ ${mode.expected}, each round: ${roundRatios(identity, variant).map((r) => r.toFixed(2)).join(' ')}`)
    target(`${mode.name}: fetch to parsed, identity time ÷ ${mode.expected} time, ${replayMiB.toFixed(1)} MiB replay`, pairedRatio(identity, variant), 'min', 6)
  }
  target('browser fetches that S3 answered with another coding than expected', wrong, 'max', 0)

  // c. The redirect with variants recorded against without: the same service, games that name the same objects.
  const service = secureService
  const withVariants = await location(service.url, '/games/1/replay', BROWSER_ACCEPT_ENCODING)
  const without = await location(service.url, `/games/${GAMES + 1}/replay`, BROWSER_ACCEPT_ENCODING)
  const picked = withVariants.searchParams.get('response-content-encoding')
  if (picked !== made[0]?.encoding || without.searchParams.has('response-content-encoding')) {
    throw new Error(`the redirect handed out ${picked ?? 'identity'} with variants recorded and ${without.searchParams.get('response-content-encoding') ?? 'identity'} without; expected ${made[0]?.encoding ?? 'identity'} and identity`)
  }
  let withNext = 0
  let withoutNext = 0
  const loads: Array<[string, () => Promise<Load>]> = [
    ['variants recorded, one game', async () => await load(service, () => '/games/1/replay')],
    ['none recorded, one game', async () => await load(service, () => `/games/${GAMES + 1}/replay`)],
    ['variants recorded, 1,000 games in turn', async () => await load(service, () => `/games/${(withNext++ % GAMES) + 1}/replay`)],
    ['none recorded, 1,000 games in turn', async () => await load(service, () => `/games/${(withoutNext++ % GAMES) + GAMES + 1}/replay`)]
  ]
  const runs = new Map<string, Load[]>(loads.map(([name]) => [name, []]))
  for (const [, run] of loads) await run() // warm-up: JIT, caches of games and of signed URLs
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of round % 2 === 0 ? loads : [...loads].reverse()) runs.get(name)?.push(await run())
  }
  console.log(`\nthe redirect, Accept-Encoding: ${BROWSER_ACCEPT_ENCODING} (${made[0]?.encoding ?? 'identity'} handed out where recorded); autocannon ${CONNECTIONS} connections, ${DURATION} s runs, ${ROUNDS} interleaved rounds`)
  console.log(`  ${'games'.padEnd(42)}   req/s   service CPU µs per 302   non-302`)
  for (const [name, list] of runs) {
    console.log(`  ${name.padEnd(42)} ${fixed(median(list.map((l) => l.rps)), 0, 7)}   ${fixed(median(list.map((l) => l.cpuMicroseconds)), 1, 22)}   ${String(list.reduce((n, l) => n + l.errors, 0)).padStart(7)}`)
  }
  const rounds = (ratios: number[]): string => ratios.map((r) => r.toFixed(2)).join(' ')
  for (const games of ['one game', '1,000 games in turn']) {
    const a = runs.get(`variants recorded, ${games}`) ?? []
    const b = runs.get(`none recorded, ${games}`) ?? []
    const perCpu = (list: Load[]): number[] => list.map((l) => 1e6 / l.cpuMicroseconds)
    console.log(`  recorded ÷ none, ${games}: req/s, each round: ${rounds(roundRatios(a.map((l) => l.rps), b.map((l) => l.rps)))}`)
    console.log(`  recorded ÷ none, ${games}: 302s per service CPU-second, each round: ${rounds(roundRatios(perCpu(a), perCpu(b)))}; median ${pairedRatio(perCpu(a), perCpu(b)).toFixed(2)}`)
    target(`redirect req/s, variants recorded ÷ none, ${games}`, pairedRatio(a.map((l) => l.rps), b.map((l) => l.rps)), 'min', 0.95)
  }
  target('redirect answers other than 302', [...runs.values()].flat().reduce((n, l) => n + l.errors, 0), 'max', 0)
  printTargets('compressed variants targets')
}

await runBench(main)
