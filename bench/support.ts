// What the benchmarks share: the S3 and PostgreSQL they run against, the
// service started as its own process, and a download client.
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { get } from 'node:http'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { EMULATOR_CREDENTIALS, startS3Emulator } from '../src/local/s3-emulator.js'
import { readBucketCors } from '../src/bucket/cors-rules.js'
import { createS3Client } from '../src/storage/s3-client.js'
import { createPostgresDatabase } from '../test/helper.js'
import { deleteBucket } from '../test/support/buckets.js'
import { closedPort } from '../test/support/silent-server.js'

export const MiB = 1024 * 1024

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
    close: async () => {
      if (env.TEST_S3_ENDPOINT !== undefined) await deleteBucket(client, bucket)
      client.destroy()
      await stopEmulator()
    }
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
  for (let i = 0; i < games.length; i += 10_000) {
    await db.insertInto('games').values(games.slice(i, i + 10_000)).execute()
  }
  return {
    url,
    description: `PostgreSQL at ${new URL(url).host} (throwaway database ${new URL(url).pathname.slice(1)})`,
    close: async () => { for (const teardown of teardowns) await teardown() }
  }
}

/** A port nothing listens on yet. */
export const freePort = closedPort

export interface Service {
  url: string
  child: ChildProcess
  rssMiB: () => Promise<number>
  stop: () => Promise<void>
}

/** The service as operators run it: `node dist/server.js` (npm run bench builds it first). */
export async function startService (env: Record<string, string>): Promise<Service> {
  const port = await freePort()
  const child = spawn(process.execPath, [new URL('../dist/server.js', import.meta.url).pathname], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    // Its warnings and errors (pino writes to stdout) go with the bench's own errors.
    stdio: ['ignore', process.stderr, 'inherit']
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      const res = await fetch(`${url}/healthz`)
      if (res.ok) break
    } catch {}
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('the service did not start')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    url,
    child,
    rssMiB: async () => {
      const status = await readFile(`/proc/${child.pid as number}/status`, 'utf8')
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024
    },
    stop: async () => {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    }
  }
}

/** Downloads a URL as fast as the client can read it; returns the byte count (checked by the caller). */
export async function download (url: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = get(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        reject(new Error(`${url}: HTTP ${res.statusCode}`))
        return
      }
      let bytes = 0
      res.on('data', (chunk: Buffer) => { bytes += chunk.length })
      res.on('end', () => resolve(bytes))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] as number : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

export function machine (): string {
  return `${cpus().length} cores, Node ${process.version}`
}
