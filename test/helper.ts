// Builds the app on the embedded backends (PGlite and the in-process S3
// emulator) or, when TEST_DATABASE_URL and TEST_S3_ENDPOINT are set, on a
// real PostgreSQL and a real S3 server. Each test file gets its own database
// and bucket, removed in teardown.
import { CreateBucketCommand, PutBucketCorsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { buildApp, type AppOptions } from '../src/app.js'
import { parseConfig, type AppConfig, type LookupCacheConfig, type S3Config } from '../src/config/index.js'
import { openDatabase, type Database } from '../src/db/database.js'
import { GamesRepository } from '../src/db/games.js'
import { migrateToLatest } from '../src/db/migrate.js'
import { EMULATOR_CREDENTIALS, startS3Emulator } from '../src/local/s3-emulator.js'
import { readBucketCors } from '../src/bucket/cors-rules.js'
import type { S3RequestObserver } from '../src/model/s3-request.js'
import type { UrlSigner } from '../src/signing/url-signer.js'
import { openStorage } from '../src/storage/open-storage.js'
import type { ReplayStorage } from '../src/storage/replay-storage.js'
import { createS3Client, type Credentials } from '../src/storage/s3-client.js'
import { deleteBucket } from './support/buckets.js'
import { clonePGlite } from './support/pglite-template.js'

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

/** A throwaway database: a fresh one on the real server, or an in-memory PGlite. */
export async function openTestDatabase (t: Tap): Promise<Kysely<Database>> {
  if (realDatabaseUrl === undefined) {
    // A clone of the migrated template (test/support/pglite-template.ts): no initdb per test.
    const db = await clonePGlite()
    t.teardown(async () => { await db.destroy() })
    return db
  }
  /* c8 ignore next: the real-services run (.ci/run) covers this */
  return (await createPostgresDatabase(t, realDatabaseUrl)).db
}

/** The machine's own PostgreSQL (127.0.0.1:5432, trust, database `test`), unless TEST_DATABASE_URL names another. */
export const MACHINE_POSTGRES = realDatabaseUrl ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * A migrated database made for this test on a PostgreSQL server (`adminUrl`
 * names one of its databases), dropped in teardown. Returns its URL too, so
 * that a test can reach it another way (through a fault proxy), and its pool.
 */
export async function createPostgresDatabase (t: Tap, adminUrl: string): Promise<{ db: Kysely<Database>, url: string, pool: pg.Pool }> {
  const name = uniqueName('replay_gate_test').replaceAll('-', '_')
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const { db, pool, close } = await openDatabase({ postgres: { url: url.href, timeoutMs: 5000 } })
  t.teardown(async () => {
    await close()
    const cleanup = new pg.Client({ connectionString: adminUrl })
    await cleanup.connect()
    await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await cleanup.end()
  })
  await migrateToLatest(db)
  return { db, url: url.href, pool }
}

/**
 * Whether a real part this test needs is there. Absent on a developer's
 * machine, the test says so loudly and skips; under CI=true it fails.
 */
export function requireRealPart (t: { fail: (message: string) => void }, what: string, missing: string | undefined): string | false {
  if (missing === undefined) return false
  /* c8 ignore start: the machines this runs on have every real part */
  if (process.env.CI === 'true') t.fail(`${what}: ${missing}; under CI=true this test is required`)
  else console.error(`\n${'!'.repeat(100)}\n!!! SKIPPING ${what.toUpperCase()}: ${missing}\n${'!'.repeat(100)}\n`)
  return missing
  /* c8 ignore stop */
}

/** Undefined when PostgreSQL answers at `url`, else why not. */
export async function postgresMissing (url: string): Promise<string | undefined> {
  // Generous: on a loaded machine (the suite runs four files at a time) a first connection can take seconds.
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 15_000 })
  try {
    await client.connect()
    await client.end()
    return undefined
  /* c8 ignore next 3: the machines this runs on have PostgreSQL */
  } catch (error) {
    return `no PostgreSQL answers at ${new URL(url).host} (${(error as Error).message})`
  }
}

export interface TestS3 {
  s3: S3Config
  credentials: { accessKeyId: string, secretAccessKey: string }
  /** A storage on this bucket; `ttl` defaults to the contract's 300 s. */
  storage: (options?: { presignTtlSeconds?: number, presignReuseSeconds?: number, s3?: Partial<S3Config>, credentials?: Credentials, headCache?: LookupCacheConfig, onRequest?: S3RequestObserver, signer?: UrlSigner }) => ReplayStorage
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
  const storage: TestS3['storage'] = ({ presignTtlSeconds = 300, presignReuseSeconds = 0, s3: overrides = {}, credentials: who = credentials, headCache, onRequest, signer } = {}) => {
    const created = openStorage({ s3: { ...s3, ...overrides }, presignTtlSeconds, presignReuseSeconds, credentials: who, headCache, onRequest, signer })
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
    t.teardown(async () => { await deleteBucket(admin, s3.bucket) })
  }
  /* c8 ignore stop */
  const put: TestS3['put'] = async (key, body, contentType) => {
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ContentType: contentType }))
  }
  return { s3, credentials, storage, put, admin, client }
}

export type TestConfig = AppConfig

/**
 * The app's settings as a configured deployment gets them by default (parsed
 * from an environment that names only a database and a bucket), with load
 * shedding off: on a loaded test machine it would turn away the suite's own
 * requests. Its tests turn it on again through `overrides`.
 */
export function testConfig (overrides: Partial<AppConfig> = {}): TestConfig {
  const defaults = parseConfig({ DATABASE_URL: 'postgres://127.0.0.1:5432/unused', S3_BUCKET: 'replays' })
  return { ...defaults, pressure: { ...defaults.pressure, maxEventLoopDelayMs: 0 }, ...overrides }
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

export interface SeedGame {
  id: string
  game_folder: string
  replay_file: string | null
  /** Uploaded to `game_folder/replay_file`; left out, the row names an object S3 does not have. */
  body?: Buffer | string
  contentType?: string
}

/** A database and a bucket of this test's own, with these games in the table and their replays in the bucket. */
export async function seedReplays (t: Tap, games: SeedGame[]): Promise<{ db: Kysely<Database>, bucket: TestS3 }> {
  const [db, bucket] = await Promise.all([openTestDatabase(t), openTestBucket(t)])
  await new GamesRepository(db).insert(games.map((game) => ({ id: game.id, game_folder: game.game_folder, replay_file: game.replay_file })))
  for (const game of games) {
    if (game.body !== undefined) await bucket.put(`${game.game_folder}/${String(game.replay_file)}`, game.body, game.contentType)
  }
  return { db, bucket }
}
