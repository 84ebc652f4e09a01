// The CloudFront signer against S3's, side by side in one run:
//  - what one URL costs to sign: a CloudFront canned-policy signature (RSA)
//    against the service's own SigV4 presign (HMAC), in µs, and their ratio;
//    beside them, getSignedUrl as its documentation shows it (the key as a PEM
//    string, parsed again for every URL);
//  - what it costs the redirect: requests per second of a service handing out
//    CloudFront URLs ÷ one handing out S3's, on 1,000 games in turn, with the
//    default reuse windows. Target: 0.8 or more.
// Exits 1 when a target is missed.
//   BENCH_ROUNDS (10) and BENCH_SECONDS (2): the redirect's rounds and their length
import { getSignedUrl } from '@aws-sdk/cloudfront-signer'
import autocannon from 'autocannon'
import { generateKeyPairSync } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { attachment } from '../src/replay/download-name.js'
import { CloudFrontUrlSigner } from '../src/signing/cloudfront-signer.js'
import { S3UrlSigner } from '../src/storage/s3-url-signer.js'
import { cpuSeconds, machine, median, onCleanup, openBenchDatabase, openBenchS3, pairedRatio, printTargets, roundRatios, runBench, serviceSettings, startService, target, type Service } from './support.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10)
const DURATION = Number(process.env.BENCH_SECONDS ?? 2)
const CONNECTIONS = 50
const GAMES = 1000
const KEY_PAIR_ID = 'K2JCJMDEHXQW5F'
const CDN_URL = 'https://d111111abcdef8.cloudfront.net'

const fixed = (value: number, digits = 2, width = 7): string => value.toFixed(digits).padStart(width)

/** µs per URL, each signer in turn, the median of 5 interleaved rounds. */
async function signingCost (s3Signer: S3UrlSigner, cdnSigner: CloudFrontUrlSigner, pem: string): Promise<{ s3: number, cdn: number, sdkPem: number }> {
  const contentDisposition = attachment('game-42.replay.fafreplay', 'game-42.replay.fafreplay')
  const object = { key: 'season-1/game-42/replay.fafreplay', contentDisposition, contentType: 'application/octet-stream' }
  const start = 1_780_000_000
  const perUrl = async (count: number, one: (i: number) => unknown): Promise<number> => {
    const started = performance.now()
    for (let i = 0; i < count; i++) await one(i)
    return (performance.now() - started) * 1000 / count
  }
  const s3 = async (i: number): Promise<string> => await s3Signer.sign({ ...object, signingDate: new Date((start + i) * 1000), expiresInSeconds: 360 })
  const cdn = (i: number): string => cdnSigner.sign(object, start + i)
  const resource = cdn(0).replace(/&Expires=.*$/, '')
  const sdkPem = (i: number): string => getSignedUrl({ url: resource, keyPairId: KEY_PAIR_ID, privateKey: pem, dateLessThan: new Date((start + i) * 1000) })
  await perUrl(20_000, s3); await perUrl(1000, cdn); await perUrl(300, sdkPem) // warm-up
  const runs = { s3: [] as number[], cdn: [] as number[], sdkPem: [] as number[] }
  for (let round = 0; round < 5; round++) {
    runs.s3.push(await perUrl(20_000, s3))
    runs.cdn.push(await perUrl(1000, cdn))
    runs.sdkPem.push(await perUrl(300, sdkPem))
  }
  return { s3: median(runs.s3), cdn: median(runs.cdn), sdkPem: median(runs.sdkPem) }
}

interface Load { rps: number, errors: number, cpuMicroseconds: number }

/** autocannon against one service, the games in turn: 302s a second, every other answer, and the service's CPU per 302. */
async function load (service: Service, paths: () => string): Promise<Load> {
  const pid = service.child.pid as number
  const cpuBefore = await cpuSeconds([pid])
  const result = await (autocannon({
    url: service.url,
    connections: CONNECTIONS,
    duration: DURATION,
    requests: [{ setupRequest: (request) => ({ ...request, path: paths() }) }]
  }) as Promise<autocannon.Result> & EventEmitter)
  const cpu = await cpuSeconds([pid]) - cpuBefore
  const errors = result.errors + result.timeouts + result['1xx'] + result['2xx'] + result['4xx'] + result['5xx']
  return { rps: result['3xx'] / result.duration, errors, cpuMicroseconds: cpu * 1e6 / result['3xx'] }
}

/** The Location of the service's 302 for `path`. */
async function location (base: string, path: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    httpRequest(`${base}${path}`, (res) => {
      res.resume()
      if (res.statusCode !== 302 || res.headers.location === undefined) reject(new Error(`${path}: ${res.statusCode ?? 0} without a Location`))
      else resolve(res.headers.location)
    }).on('error', reject).end()
  })
}

async function main (): Promise<void> {
  console.log(`CDN benchmark: ${machine()}, ${cpus()[0]?.model.trim() ?? 'unknown CPU'}`)
  const scratch = await mkdtemp(join(tmpdir(), 'replay-gate-bench-cdn-'))
  onCleanup(async () => { await rm(scratch, { recursive: true, force: true }) })
  // A key pair of this run's own, 2048 bits as CloudFront's trusted keys are.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const keyFile = join(scratch, 'private_key.pem')
  await writeFile(keyFile, pem, { mode: 0o600 })

  const s3 = await openBenchS3()
  const games = Array.from({ length: GAMES }, (_, i) => ({ id: String(i + 1), game_folder: `season-${i % 97}/game-${i + 1}`, replay_file: 'replay.fafreplay' }))
  const database = await openBenchDatabase(games)
  console.log(`backends: ${s3.description}; ${database.description.replace(/ \(.*/, '')}`)

  // a. One URL's signature.
  const cost = await signingCost(new S3UrlSigner(s3.client, s3.bucket), new CloudFrontUrlSigner({ url: CDN_URL, keyPairId: KEY_PAIR_ID, privateKey }), pem)
  console.log('\nsigning one URL, µs (median of 5 interleaved rounds)')
  console.log(`  S3 presign (the service's SigV4 signer)                  ${fixed(cost.s3, 1, 8)}`)
  console.log(`  CloudFront canned policy (the service's signer)          ${fixed(cost.cdn, 1, 8)}   ${fixed(cost.cdn / cost.s3, 1, 6)}× S3's`)
  console.log(`  getSignedUrl with the key as a PEM string, for reference  ${fixed(cost.sdkPem, 1, 8)}   ${fixed(cost.sdkPem / cost.cdn, 1, 6)}× the service's`)

  // b. The redirect, one service per signer, the same database and settings otherwise (default reuse windows).
  const settings = { ...serviceSettings(s3, database.url), S3_FORCE_PATH_STYLE: 'true', PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0' }
  const services = {
    s3: await startService(settings),
    cdn: await startService({ ...settings, CLOUDFRONT_URL: CDN_URL, CLOUDFRONT_KEY_PAIR_ID: KEY_PAIR_ID, CLOUDFRONT_PRIVATE_KEY_FILE: keyFile })
  }
  if (!(await location(services.cdn.url, '/games/1/replay')).startsWith(`${CDN_URL}/`)) throw new Error('the CDN service did not hand out a CloudFront URL')
  if (!(await location(services.s3.url, '/games/1/replay')).startsWith(s3.endpoint)) throw new Error('the S3 service did not hand out an S3 URL')
  const next = { s3: 0, cdn: 0 }
  const loads: Array<['s3' | 'cdn', () => Promise<Load>]> = (['cdn', 's3'] as const).map((signer) => [signer, async () => await load(services[signer], () => `/games/${(next[signer]++ % GAMES) + 1}/replay`)])
  const runs = { s3: [] as Load[], cdn: [] as Load[] }
  for (const [, run] of loads) await run() // warm-up: JIT, the games' cache, this window's URLs
  for (let round = 0; round < ROUNDS; round++) {
    for (const [signer, run] of round % 2 === 0 ? loads : [...loads].reverse()) runs[signer].push(await run())
  }
  console.log(`\nthe redirect, ${GAMES.toLocaleString('en')} games in turn, default PRESIGN_TTL_SECONDS and PRESIGN_REUSE_SECONDS; autocannon ${CONNECTIONS} connections, ${DURATION} s runs, ${ROUNDS} interleaved rounds`)
  console.log('  signer        req/s   service CPU µs per 302   non-302')
  for (const signer of ['cdn', 's3'] as const) {
    const list = runs[signer]
    console.log(`  ${(signer === 'cdn' ? 'CloudFront' : 'S3').padEnd(10)} ${fixed(median(list.map((l) => l.rps)), 0, 8)}   ${fixed(median(list.map((l) => l.cpuMicroseconds)), 1, 22)}   ${String(list.reduce((n, l) => n + l.errors, 0)).padStart(7)}`)
  }
  const rps = (list: Load[]): number[] => list.map((l) => l.rps)
  const perCpu = (list: Load[]): number[] => list.map((l) => 1e6 / l.cpuMicroseconds)
  console.log(`  CloudFront ÷ S3, req/s, each round: ${roundRatios(rps(runs.cdn), rps(runs.s3)).map((r) => r.toFixed(2)).join(' ')}`)
  console.log(`  CloudFront ÷ S3, 302s per service CPU-second, each round: ${roundRatios(perCpu(runs.cdn), perCpu(runs.s3)).map((r) => r.toFixed(2)).join(' ')}; median ${pairedRatio(perCpu(runs.cdn), perCpu(runs.s3)).toFixed(2)}`)
  target('redirect req/s, CloudFront signer ÷ S3 signer, 1,000 games in turn', pairedRatio(rps(runs.cdn), rps(runs.s3)), 'min', 0.8)
  target('redirect answers other than 302', [...runs.s3, ...runs.cdn].reduce((n, l) => n + l.errors, 0), 'max', 0)
  printTargets('CDN targets')
}

await runBench(main)
