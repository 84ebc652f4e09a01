// What the benchmarks share: the S3 and PostgreSQL they run against, the
// service started as its own process, a download client, and a runner that
// cleans up whatever a benchmark opened, however it ends, and fails it when a
// target is missed.
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { connect } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { GamesRepository } from '../src/db/games.js'
import { EMULATOR_CREDENTIALS, startS3Emulator } from '../src/local/s3-emulator.js'
import { readBucketCors } from '../src/bucket/cors-rules.js'
import { createS3Client } from '../src/storage/s3-client.js'
import { address, parseHead } from '../src/storage/socket-reads/index.js'
import { createPostgresDatabase } from '../test/helper.js'
import { deleteBucket } from '../test/support/buckets.js'
import { closedPort } from '../test/support/silent-server.js'

export const MiB = 1024 * 1024

type Cleanup = () => unknown
const cleanups = new Set<Cleanup>()
const children = new Set<ChildProcess>()

/** Runs `cleanup` when the benchmark ends, whichever way; the returned function runs it now instead. */
export function onCleanup (cleanup: Cleanup): () => Promise<void> {
  cleanups.add(cleanup)
  return async () => {
    if (!cleanups.delete(cleanup)) return
    await cleanup()
  }
}

/** Each cleanup gets this long: a hung server (an S3 that never answers a delete) must not hang the benchmark. */
const CLEANUP_MS = 60_000

async function cleanUp (): Promise<void> {
  for (const cleanup of [...cleanups].reverse()) {
    cleanups.delete(cleanup)
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        cleanup(),
        new Promise((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`no end after ${CLEANUP_MS / 1000} s, left as it is`)) }, CLEANUP_MS) })
      ])
    } catch (error) {
      console.error(`cleanup failed: ${(error as Error).message}`)
    } finally {
      clearTimeout(timer)
    }
  }
}

// The last resort, when the process exits without running the cleanups (process.exit elsewhere):
// no service process is left behind.
process.on('exit', () => { for (const child of children) child.kill('SIGKILL') })

export interface Target {
  name: string
  value: number
  /** The value must be at least (`min`) or at most (`max`) the limit. */
  kind: 'min' | 'max'
  limit: number
  met: boolean
}

const targets: Target[] = []

/** Records a target; the benchmark exits 1 when any is missed. */
export function target (name: string, value: number, kind: 'min' | 'max', limit: number): Target {
  const met = kind === 'min' ? value >= limit : value <= limit
  const checked = { name, value, kind, limit, met }
  targets.push(checked)
  return checked
}

/** Prints the targets checked so far, each with met or MISSED. */
export function printTargets (title = 'targets'): void {
  console.log(`\n${title.padEnd(64)} value   target`)
  for (const t of targets.splice(0)) {
    const digits = Math.abs(t.limit) >= 10 ? 1 : 2
    console.log(`  ${t.name.padEnd(62)} ${t.value.toFixed(digits).padStart(7)}   ${t.kind === 'min' ? '≥' : '≤'} ${t.limit}   ${t.met ? 'met' : 'MISSED'}`)
    if (!t.met) missed.push(t)
  }
}
const missed: Target[] = []

/**
 * Runs a benchmark: whatever it opened (services, databases, buckets) is
 * closed on success, on an error, and on SIGINT or SIGTERM; it exits 1 when
 * it failed or missed a target, and names which.
 */
export async function runBench (main: () => Promise<void>): Promise<void> {
  const interrupted = (signal: NodeJS.Signals): void => {
    console.error(`\n${signal}: cleaning up`)
    cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  }
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  let failed = false
  try {
    await main()
    if (targets.length > 0) printTargets()
  } catch (error) {
    failed = true
    console.error(`\nbenchmark failed: ${(error as Error).stack ?? String(error)}`)
  } finally {
    await cleanUp()
  }
  if (missed.length > 0) console.error(`\nmissed ${missed.length} target(s):\n${missed.map((t) => `  ${t.name}: ${t.value.toFixed(2)}, target ${t.kind === 'min' ? '≥' : '≤'} ${t.limit}`).join('\n')}`)
  process.exitCode = failed || missed.length > 0 ? 1 : 0
}

export interface BenchS3 {
  description: string
  endpoint: string
  region: string
  bucket: string
  credentials: { accessKeyId: string, secretAccessKey: string }
  client: S3Client
  put: (key: string, size: number) => Promise<void>
  close: () => Promise<void>
}

/** The service's settings for a bench database and bucket. */
export function serviceSettings (s3: BenchS3, databaseUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    S3_BUCKET: s3.bucket,
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey
  }
}

/** TEST_S3_* (a real S3-compatible server, e.g. scripts/rgw.sh) when set, else the embedded emulator. */
export async function openBenchS3 (): Promise<BenchS3> {
  const env = process.env
  let endpoint: string
  let credentials: BenchS3['credentials']
  let description: string
  let bucket: string
  let stopEmulator = async (): Promise<void> => {}
  if (env.TEST_S3_ENDPOINT !== undefined) {
    endpoint = env.TEST_S3_ENDPOINT
    credentials = { accessKeyId: env.TEST_S3_ACCESS_KEY_ID ?? '', secretAccessKey: env.TEST_S3_SECRET_ACCESS_KEY ?? '' }
    description = `S3 at ${endpoint}`
    bucket = `replay-gate-bench-${randomBytes(4).toString('hex')}`
  } else {
    const directory = await mkdtemp(join(tmpdir(), 'replay-gate-bench-s3-'))
    const emulator = await startS3Emulator({ directory, bucket: { name: 'replays', cors: readBucketCors() } })
    endpoint = emulator.endpoint
    credentials = { ...EMULATOR_CREDENTIALS }
    description = `embedded S3 emulator at ${endpoint} (set TEST_S3_* for a real server)`
    bucket = 'replays'
    stopEmulator = async () => {
      await emulator.close()
      await rm(directory, { recursive: true, force: true })
    }
  }
  const region = env.TEST_S3_REGION ?? 'us-east-1'
  const client = createS3Client({ region, endpoint, forcePathStyle: true, connectTimeoutMs: 5000, credentials })
  if (env.TEST_S3_ENDPOINT !== undefined) await client.send(new CreateBucketCommand({ Bucket: bucket }))
  const close = onCleanup(async () => {
    if (env.TEST_S3_ENDPOINT !== undefined) await deleteBucket(client, bucket)
    client.destroy()
    await stopEmulator()
  })
  return {
    description,
    endpoint,
    region,
    bucket,
    credentials,
    client,
    put: async (key, size) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: randomBytes(size), ContentType: 'application/octet-stream' }))
    },
    close
  }
}

export interface BenchDatabase {
  url: string
  description: string
  close: () => Promise<void>
}

/** A throwaway database on the PostgreSQL at BENCH_DATABASE_URL (default: the local one), dropped at the end. */
export async function openBenchDatabase (games: Array<{ id: string, game_folder: string, replay_file: string | null }>): Promise<BenchDatabase> {
  const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  // The tests' own helper, with its teardown run by close().
  const teardowns: Array<() => unknown> = []
  const { db, url } = await createPostgresDatabase({ teardown: (fn) => { teardowns.unshift(fn) } }, adminUrl)
  const close = onCleanup(async () => { for (const teardown of teardowns) await teardown() })
  const repository = new GamesRepository(db)
  for (let i = 0; i < games.length; i += 10_000) await repository.insert(games.slice(i, i + 10_000))
  return {
    url,
    description: `PostgreSQL at ${new URL(url).host} (throwaway database ${new URL(url).pathname.slice(1)})`,
    close
  }
}

/** A port nothing listens on yet. */
export const freePort = closedPort

export interface Service {
  url: string
  child: ChildProcess
  /** The process's resident memory; rejects once it has exited. */
  rssMiB: () => Promise<number>
  stop: () => Promise<void>
}

export interface StartOptions {
  /** The script to run (default: the service as operators run it, `dist/server.js`; npm run bench builds it first). */
  entry?: string
  /** Where its standard output goes (default: the bench's standard error, with its warnings and errors). */
  stdout?: 'ignore' | number
}

/** Starts a server as a process of its own, with PORT and HOST set; ready once GET /healthz answers 200. Stopped at cleanup at the latest. */
export async function startService (env: Record<string, string>, { entry = new URL('../dist/server.js', import.meta.url).pathname, stdout = process.stderr.fd }: StartOptions = {}): Promise<Service> {
  const port = await freePort()
  const child = spawn(process.execPath, [entry], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', stdout, 'inherit']
  })
  children.add(child)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  exited.then(() => children.delete(child))
  const stop = onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      const res = await fetch(`${url}/healthz`)
      if (res.ok) break
    } catch {}
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop()
      throw new Error(`${entry} did not start`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    url,
    child,
    rssMiB: async () => {
      const status = await readFile(`/proc/${child.pid as number}/status`, 'utf8')
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024
    },
    stop
  }
}

/** Samples a service's RSS every `everyMs` until stopped; the peak, including a last reading. */
export function sampleRss (service: Service, everyMs = 20): { stop: () => Promise<number> } {
  let peak = 0
  let pending: Promise<unknown> = Promise.resolve()
  const sample = async (): Promise<void> => { peak = Math.max(peak, await service.rssMiB()) }
  // A reading can fail only when the process has exited: stop() then reports that.
  const timer = setInterval(() => { pending = sample().catch(() => {}) }, everyMs)
  return {
    stop: async () => {
      clearInterval(timer)
      await pending
      await sample()
      return peak
    }
  }
}

/**
 * Downloads an http: URL as fast as the client can read it; returns the body's
 * byte count (checked by the caller). A client of its own, over one socket
 * read into one buffer: Node's HTTP client allocates two buffers per 64 KiB
 * read and took a whole core at 400 MiB/s, as much as S3 and the proxy
 * together, so that on two cores it was the client that set the pace and a
 * proxy's cost showed only as the CPU it took from the client. This one takes
 * a fifth of that. It expects what S3, the service and nginx send: a 200 with a
 * Content-Length (read by the service's own parseHead), and it closes the
 * connection after the body.
 */
export async function download (url: string): Promise<number> {
  const target = new URL(url)
  return await new Promise((resolve, reject) => {
    let head = ''
    let length = -1
    let bytes = 0
    const socket = connect({
      ...address(target),
      onread: {
        buffer: READ_BUFFER,
        callback: (size) => {
          if (length !== -1) {
            bytes += size
            return true
          }
          head += READ_BUFFER.toString('latin1', 0, size)
          const end = head.indexOf('\r\n\r\n')
          if (end === -1) return true
          // The service's own reader of S3's heads: a 200 or 206 with one Content-Length.
          const parsed = parseHead(head.slice(0, end))
          if (parsed === undefined) {
            socket.destroy()
            reject(new Error(`${url}: not a 200 with a Content-Length: ${head.slice(0, head.indexOf('\r\n'))}`))
            return false
          }
          length = parsed.length
          bytes = head.length - end - 4
          return true
        }
      }
    })
    socket.on('error', reject)
    socket.on('end', () => {
      if (length === -1) reject(new Error(`${url}: the connection closed before the head`))
      else if (bytes !== length) reject(new Error(`${url}: ${bytes} bytes of ${length}`))
      else resolve(bytes)
    })
    socket.write(`GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nConnection: close\r\n\r\n`)
  })
}

/** Where download() reads: its bytes are counted, never kept. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024)

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] as number : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/**
 * A comparison of two loads measured side by side: the median, over the
 * rounds, of each round's ratio a ÷ b. Within a round the two ran one right
 * after the other, so a drift of the machine's pace over minutes (seen here:
 * the same constant 302 answered 16,000 req/s in one phase of a run and
 * 29,000 in the next) moves both alike and cancels out of the ratio; the
 * ratio of two medians taken over the whole run does not cancel it.
 */
export function pairedRatio (a: number[], b: number[]): number {
  return median(roundRatios(a, b))
}

/** Each round's ratio a ÷ b, in the order of the rounds (printed beside a target to show how far the rounds agree). */
export function roundRatios (a: number[], b: number[]): number[] {
  if (a.length !== b.length || a.length === 0) throw new Error(`paired ratio of ${a.length} and ${b.length} rounds`)
  return a.map((value, round) => value / (b[round] as number))
}

/**
 * CPU seconds (user + system) that processes have used so far, with their
 * children's threads: fields 14 and 15 of /proc/PID/stat, in clock ticks of
 * 1/100 s (Linux's USER_HZ). A process that has exited counts 0.
 */
export async function cpuSeconds (pids: number[]): Promise<number> {
  let ticks = 0
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
    if (stat === undefined) continue
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    ticks += Number(fields[11]) + Number(fields[12])
  }
  return ticks / 100
}

/** A process and its direct children (nginx's master and its workers). */
export async function withChildren (pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')
  return [pid, ...children.split(' ').filter((word) => word !== '').map(Number)]
}

export function machine (): string {
  return `${cpus().length} cores, Node ${process.version}`
}
