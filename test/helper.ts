// Builds the app on the embedded backends (PGlite and the in-process S3
// emulator) or, when TEST_DATABASE_URL and TEST_S3_ENDPOINT are set, on a
// real PostgreSQL and a real S3 server. Each test file gets its own database
// and bucket, removed in teardown.
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, PutBucketCorsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { buildApp, type AppOptions } from '../src/app.js'
import { parseConfig, type Config, type S3Config } from '../src/config/index.js'
import { connectPGlite, connectPostgres, type Database } from '../src/db/database.js'
import { migrateToLatest } from '../src/db/migrate.js'
import { EMULATOR_CREDENTIALS, startS3Emulator } from '../src/local/s3-emulator.js'
import { readBucketCors } from '../src/bucket/cors-rules.js'
import { ReplayStorage } from '../src/storage/replay-storage.js'
import { createS3Client } from '../src/storage/s3-client.js'

export interface Tap {
  teardown: (fn: () => unknown) => void
}

const env = process.env
export const realDatabaseUrl = env.TEST_DATABASE_URL
export const realS3Endpoint = env.TEST_S3_ENDPOINT

export function describeBackends (): string {
  const database = realDatabaseUrl !== undefined ? `PostgreSQL (${new URL(realDatabaseUrl).host})` : 'PGlite (embedded)'
  const s3 = realS3Endpoint !== undefined ? `S3 at ${realS3Endpoint}` : 'S3 emulator (embedded)'
  return `${database} + ${s3}`
}

export function uniqueName (prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`
}

const databaseUrls = new WeakMap<Kysely<Database>, string>()
/** The connection URL of a database that openTestDatabase made on the real server. */
export function testDatabaseUrl (db: Kysely<Database>): string | undefined {
  return databaseUrls.get(db)
}

/** A throwaway database: a fresh one on the real server, or an in-memory PGlite. */
export async function openTestDatabase (t: Tap): Promise<Kysely<Database>> {
  if (realDatabaseUrl === undefined) {
    const db = await connectPGlite(undefined)
    t.teardown(async () => { await db.destroy() })
    await migrateToLatest(db)
    return db
  }
  /* c8 ignore start: the real-services run (.ci/run) covers this */
  const name = uniqueName('replay_gate_test').replaceAll('-', '_')
  const admin = new pg.Client({ connectionString: realDatabaseUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(realDatabaseUrl)
  url.pathname = `/${name}`
  const db = connectPostgres({ url: url.href, timeoutMs: 5000 })
  databaseUrls.set(db, url.href)
  t.teardown(async () => {
    await db.destroy()
    const cleanup = new pg.Client({ connectionString: realDatabaseUrl })
    await cleanup.connect()
    await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await cleanup.end()
  })
  await migrateToLatest(db)
  return db
  /* c8 ignore stop */
}

export interface TestS3 {
  s3: S3Config
  credentials: { accessKeyId: string, secretAccessKey: string }
  /** A storage on this bucket; `ttl` defaults to the contract's 300 s. */
  storage: (options?: { presignTtlSeconds?: number, presignReuseSeconds?: number, s3?: Partial<S3Config>, credentials?: TestS3['credentials'] }) => ReplayStorage
  put: (key: string, body: Buffer | string, contentType?: string) => Promise<void>
  /** A client of the test's own for the bucket (uploads, its settings): the service's storage only reads. */
  admin: S3Client
  /** Another client of the bucket's S3, with other credentials. */
  client: (credentials: TestS3['credentials']) => S3Client
}

/** A throwaway bucket with the project's CORS rules: on the real server, or on a fresh emulator. */
export async function openTestBucket (t: Tap): Promise<TestS3> {
  const base = { region: env.TEST_S3_REGION ?? 'us-east-1', forcePathStyle: true, keyPrefix: '', connectTimeoutMs: 3000, firstByteTimeoutMs: 10_000 }
  let s3: S3Config
  let credentials: TestS3['credentials']
  if (realS3Endpoint === undefined) {
    const directory = await mkdtemp(join(tmpdir(), 'replay-gate-s3-'))
    const emulator = await startS3Emulator({ directory, bucket: { name: 'replays', cors: readBucketCors() } })
    t.teardown(async () => {
      await emulator.close()
      await rm(directory, { recursive: true, force: true })
    })
    s3 = { ...base, bucket: 'replays', endpoint: emulator.endpoint, publicEndpoint: emulator.endpoint }
    credentials = { ...EMULATOR_CREDENTIALS }
  } else {
    /* c8 ignore start: the real-services run (.ci/run) covers this */
    s3 = { ...base, bucket: uniqueName('replay-gate-test'), endpoint: realS3Endpoint, publicEndpoint: realS3Endpoint }
    credentials = { accessKeyId: env.TEST_S3_ACCESS_KEY_ID ?? '', secretAccessKey: env.TEST_S3_SECRET_ACCESS_KEY ?? '' }
    /* c8 ignore stop */
  }
  const made: ReplayStorage[] = []
  const storage: TestS3['storage'] = ({ presignTtlSeconds = 300, presignReuseSeconds = 0, s3: overrides = {}, credentials: who = credentials } = {}) => {
    const created = new ReplayStorage({ s3: { ...s3, ...overrides }, presignTtlSeconds, presignReuseSeconds, credentials: who })
    made.push(created)
    return created
  }
  const clients: S3Client[] = []
  const client: TestS3['client'] = (who) => {
    const created = createS3Client({ ...s3, credentials: who })
    clients.push(created)
    return created
  }
  const admin = client(credentials)
  t.teardown(() => {
    for (const s of made) s.close()
    for (const c of clients) c.destroy()
  })
  /* c8 ignore start: the real-services run (.ci/run) covers this */
  if (realS3Endpoint !== undefined) {
    await admin.send(new CreateBucketCommand({ Bucket: s3.bucket }))
    await admin.send(new PutBucketCorsCommand({ Bucket: s3.bucket, CORSConfiguration: readBucketCors() }))
    t.teardown(async () => {
      const listed = await admin.send(new ListObjectsV2Command({ Bucket: s3.bucket }))
      const objects = (listed.Contents ?? []).map(({ Key }) => ({ Key }))
      if (objects.length > 0) await admin.send(new DeleteObjectsCommand({ Bucket: s3.bucket, Delete: { Objects: objects } }))
      await admin.send(new DeleteBucketCommand({ Bucket: s3.bucket }))
    })
  }
  /* c8 ignore stop */
  const put: TestS3['put'] = async (key, body, contentType) => {
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ContentType: contentType }))
  }
  return { s3, credentials, storage, put, admin, client }
}

export type TestConfig = AppOptions['config']

export function testConfig (overrides: Partial<Config> = {}): TestConfig {
  return {
    corsOrigins: undefined,
    corsCredentials: false,
    presignTtlSeconds: 300,
    databaseTimeoutMs: 3000,
    lookupCache: { size: 10_000, ttlSeconds: 300, missTtlSeconds: 2 },
    s3: { keyPrefix: '' },
    http: parseConfig({}).http,
    trustProxy: false,
    // Off unless a test turns them on: a loaded test machine must not shed the suite's own requests.
    pressure: { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0, maxHeapUsedBytes: 0, maxRssBytes: 0, retryAfterSeconds: 10 },
    streamRateLimit: { max: 0, windowSeconds: 60 },
    auth: undefined,
    metricsPort: undefined,
    ...overrides
  }
}

/** Builds the app and closes it in teardown; `listen` puts it on a real port. */
export async function buildTestApp (t: Tap, options: AppOptions): Promise<FastifyInstance> {
  const app = await buildApp(options)
  t.teardown(async () => { await app.close() })
  return app
}

export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return `http://127.0.0.1:${port}`
}
