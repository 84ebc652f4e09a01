// npm run soak: mixed traffic at a fixed rate for a chosen time against the
// service as its own process, on PostgreSQL and S3 (TEST_S3_* for a real one,
// e.g. scripts/rgw.sh; else the embedded emulator). Prints requests by status,
// p50/p99 per route, unexpected answers, and the service's RSS at start, after
// the warm-up and at the end (each the median of a 30 s window of samples taken
// every second: a single reading swings by tens of MiB with the GC).
//   SOAK_SECONDS (300), SOAK_RATE (requests per second, 200), SOAK_WARMUP_SECONDS (60)
import { get, type IncomingMessage } from 'node:http'
import { machine, openBenchDatabase, openBenchS3, serviceSettings, startService } from './support.js'

const SECONDS = Number(process.env.SOAK_SECONDS ?? 300)
const RATE = Number(process.env.SOAK_RATE ?? 200)
const WARMUP = Math.min(Number(process.env.SOAK_WARMUP_SECONDS ?? 60), SECONDS / 2)
const GAMES = 1000

interface Kind {
  name: string
  weight: number
  path: () => string
  expected: number[]
  /** Reads this many bytes of the body, then drops the connection (undefined: the whole body). */
  abortAfter?: number
}
const game = () => 1 + Math.floor(Math.random() * GAMES)
const KINDS: Kind[] = [
  { name: 'redirect', weight: 50, path: () => `/games/${game()}/replay`, expected: [302] },
  { name: 'url', weight: 20, path: () => `/games/${game()}/replay/url`, expected: [200] },
  { name: 'stream', weight: 10, path: () => `/games/${game()}/replay/stream`, expected: [200] },
  { name: 'stream, aborted', weight: 5, path: () => `/games/${game()}/replay/stream`, expected: [200], abortAfter: 16 * 1024 },
  { name: 'no replay', weight: 5, path: () => `/games/${GAMES + 1}/replay`, expected: [404] },
  { name: 'bad id', weight: 5, path: () => `/games/${['x', '-1', '1e3', '%zz'][Math.floor(Math.random() * 4)] as string}/replay`, expected: [400] },
  { name: 'unknown game', weight: 5, path: () => `/games/${GAMES + 2 + Math.floor(Math.random() * 1e9)}/replay`, expected: [404] }
]
const TOTAL_WEIGHT = KINDS.reduce((sum, kind) => sum + kind.weight, 0)
function pick (): Kind {
  let roll = Math.random() * TOTAL_WEIGHT
  for (const kind of KINDS) {
    roll -= kind.weight
    if (roll < 0) return kind
  }
  return KINDS[0] as Kind
}

async function request (base: string, kind: Kind): Promise<{ status: number, ms: number, error?: string }> {
  const started = performance.now()
  return await new Promise((resolve) => {
    const req = get(`${base}${kind.path()}`, (res: IncomingMessage) => {
      let read = 0
      res.on('data', (chunk: Buffer) => {
        read += chunk.length
        if (kind.abortAfter !== undefined && read >= kind.abortAfter) {
          req.destroy()
          resolve({ status: res.statusCode ?? 0, ms: performance.now() - started })
        }
      })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }) })
      res.on('error', (error) => { resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, error: error.message }) })
    })
    req.on('error', (error) => {
      if (kind.abortAfter === undefined) resolve({ status: 0, ms: performance.now() - started, error: error.message })
    })
  })
}

function percentile (sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number
}

async function main (): Promise<void> {
  const s3 = await openBenchS3()
  const games: Array<{ id: string, game_folder: string, replay_file: string | null }> =
    Array.from({ length: GAMES }, (_, i) => ({ id: String(i + 1), game_folder: 'soak', replay_file: `${(i % 20) + 1}.bin` }))
  games.push({ id: String(GAMES + 1), game_folder: 'soak', replay_file: null })
  const db = await openBenchDatabase(games)
  for (let i = 1; i <= 20; i++) await s3.put(`soak/${i}.bin`, 256 * 1024 + i)
  const service = await startService({
    ...serviceSettings(s3, db.url),
    // A soak measures the service, not its rate limit.
    STREAM_RATE_LIMIT_MAX: '0'
  })
  console.log(`soak: ${RATE} requests/s for ${SECONDS} s (warm-up ${WARMUP} s); ${s3.description}; ${db.description}; ${machine()}`)
  const rssAtStart = await service.rssMiB()
  const samples: Array<[number, number]> = [] // [seconds since start, RSS MiB]
  const statuses = new Map<number, number>()
  const latencies = new Map<string, number[]>()
  const unexpected: string[] = []
  let sent = 0
  const inFlight = new Set<Promise<void>>()
  const started = performance.now()
  let lastReport = 0
  let lastSample = -1
  try {
    while (performance.now() - started < SECONDS * 1000) {
      const elapsed = (performance.now() - started) / 1000
      // Open loop: requests go out on schedule, whether or not earlier ones have answered.
      while (sent < elapsed * RATE) {
        const kind = pick()
        sent++
        const done = request(service.url, kind).then(({ status, ms, error }) => {
          statuses.set(status, (statuses.get(status) ?? 0) + 1)
          latencies.set(kind.name, [...(latencies.get(kind.name) ?? []), ms])
          if (error !== undefined || !kind.expected.includes(status)) unexpected.push(`${kind.name}: ${status} ${error ?? ''}`.trim())
        })
        inFlight.add(done)
        done.finally(() => inFlight.delete(done))
      }
      if (elapsed - lastSample >= 1) {
        lastSample = elapsed
        samples.push([elapsed, await service.rssMiB()])
      }
      if (elapsed - lastReport >= 30) {
        lastReport = elapsed
        console.log(`  ${elapsed.toFixed(0)} s: ${sent} sent, RSS ${(samples.at(-1) as [number, number])[1].toFixed(1)} MiB, ${unexpected.length} unexpected`)
      }
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    await Promise.all(inFlight)
  } finally {
    await service.stop()
    await db.close()
    await s3.close()
  }

  console.log(`\nrequests: ${sent}; by status: ${[...statuses.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(', ')}`)
  console.log('\n| route | requests | p50 ms | p99 ms |\n|---|---|---|---|')
  for (const kind of KINDS) {
    const sorted = (latencies.get(kind.name) ?? []).sort((a, b) => a - b)
    console.log(`| ${kind.name} | ${sorted.length} | ${percentile(sorted, 0.5).toFixed(1)} | ${percentile(sorted, 0.99).toFixed(1)} |`)
  }
  console.log(`\nunexpected answers or errors: ${unexpected.length}${unexpected.length > 0 ? ` (first: ${unexpected.slice(0, 5).join('; ')})` : ''}`)
  const window = Math.min(30, (SECONDS - WARMUP) / 2)
  const medianOf = (from: number, to: number): number => {
    const values = samples.filter(([at]) => at >= from && at < to).map(([, mib]) => mib).sort((a, b) => a - b)
    return values[Math.floor(values.length / 2)] as number
  }
  const afterWarmup = medianOf(WARMUP, WARMUP + window)
  const end = medianOf(SECONDS - window, SECONDS + 1)
  const all = samples.map(([, mib]) => mib)
  console.log(`RSS: start ${rssAtStart.toFixed(1)} MiB, after warm-up ${afterWarmup.toFixed(1)} MiB, end ${end.toFixed(1)} MiB ` +
    `(medians of ${window} s windows; min ${Math.min(...all).toFixed(1)}, max ${Math.max(...all).toFixed(1)} over ${all.length} samples)`)
  const drift = (end - afterWarmup) / afterWarmup * 100
  console.log(`RSS drift after the warm-up: ${drift >= 0 ? '+' : ''}${drift.toFixed(1)}% (target: under 10%)`)
  if (unexpected.length > 0 || drift >= 10) process.exitCode = 1
}

await main()
