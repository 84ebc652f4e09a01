import { PutObjectCommand } from '@aws-sdk/client-s3'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { get, type IncomingMessage } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { DEMO_GAME, demoReplay } from '../src/local/demo-seed.js'
import { EMULATOR_CREDENTIALS } from '../src/local/s3-emulator.js'
import { createS3Client } from '../src/storage/s3-client.js'
import { closedPort } from './support/silent-server.js'
import { spawnEntry, type Service } from './support/spawn-service.js'
import type { Tap } from './helper.js'

t.test('a bad setting stops the start with a message that names it', async (t) => {
  const service = spawnEntry('server.ts', { PORT: 'eighty', PRESIGN_TTL_SECONDS: '0' })
  const { code } = await service.exited
  t.equal(code, 1)
  t.match(service.stderr(), /replay-gate cannot start: Invalid configuration:/)
  t.match(service.stderr(), /PORT must be a whole number from 0 to 65535; got "eighty"/)
  t.match(service.stderr(), /PRESIGN_TTL_SECONDS must be a whole number from 1 to 604800; got "0"/)
})

t.test('only one of DATABASE_URL and S3_BUCKET: the start fails and says which is missing', async (t) => {
  const service = spawnEntry('server.ts', { DATABASE_URL: 'postgres://127.0.0.1:5432/x' })
  t.equal((await service.exited).code, 1)
  t.match(service.stderr(), /S3_BUCKET is missing/)
})

t.test('a local data folder that cannot be used stops the start with a message', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'replay-gate-local-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  // The bucket's folder is taken by a file, so the emulator cannot create it.
  await mkdir(join(dataDir, 's3'))
  await writeFile(join(dataDir, 's3', 'replays'), 'not a folder')
  const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: dataDir })
  t.equal((await service.exited).code, 1)
  t.match(service.stderr(), /replay-gate cannot start: its backends did not open: /)
})

t.test('no configuration: local mode serves the demo game, and SIGTERM stops it cleanly', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'replay-gate-local-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  for (const round of ['first start', 'restart on the same data']) {
    const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'warn' })
    const [, url] = await service.waitFor(/curl -sL (http:\/\/127\.0\.0\.1:\d+\/games\/1\/replay) /)
    t.match(service.stdout(), /local mode/, round)
    const res = await fetch(url as string)
    t.equal(res.status, 200, round)
    t.same(Buffer.from(await res.arrayBuffer()), demoReplay(), `${round}: the demo replay`)
    service.child.kill('SIGTERM')
    t.same(await service.exited, { code: 0, signal: null }, `${round}: exits 0 on SIGTERM`)
  }
})

t.test('configured mode starts without reaching its backends, and reports them unready', async (t) => {
  const port = await closedPort()
  const service = spawnEntry('server.ts', {
    PORT: '0',
    DATABASE_URL: `postgres://app:hunter2@127.0.0.1:${port}/games`,
    DATABASE_TIMEOUT_MS: '500',
    S3_BUCKET: 'replays',
    S3_ENDPOINT: `http://127.0.0.1:${port}`,
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret'
  })
  const [, base] = await service.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)
  await service.waitFor(/serving replays/)
  t.notMatch(service.stdout(), /hunter2/, 'the database password is not logged')
  t.equal((await fetch(`${base as string}/healthz`)).status, 200)
  t.equal((await fetch(`${base as string}/readyz`)).status, 503)
  t.equal((await fetch(`${base as string}/games/1/replay`)).status, 503)
  service.child.kill('SIGINT')
  t.same(await service.exited, { code: 0, signal: null })
})

/** Local mode with a large demo replay, and a download of it through /stream that reads nothing until told to. */
async function serviceWithStream (t: Tap, env: Record<string, string> = {}): Promise<{
  service: Service, replay: Buffer, response: IncomingMessage, readAll: () => Promise<{ bytes: Buffer, complete: boolean }>
}> {
  const dataDir = await mkdtemp(join(tmpdir(), 'replay-gate-local-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env })
  t.teardown(() => { service.child.kill('SIGKILL') })
  const [, base] = await service.waitFor(/curl -sL (http:\/\/127\.0\.0\.1:\d+)\/games\/1\/replay /)
  const [, s3Endpoint] = await service.waitFor(/S3 emulator at (http:\/\/127\.0\.0\.1:\d+)/)
  const replay = randomBytes(24 * 1024 * 1024)
  const s3 = createS3Client({ region: 'us-east-1', endpoint: s3Endpoint, forcePathStyle: true, connectTimeoutMs: 2000, credentials: EMULATOR_CREDENTIALS })
  await s3.send(new PutObjectCommand({ Bucket: 'replays', Key: `${DEMO_GAME.folder}/${DEMO_GAME.file}`, Body: replay }))
  s3.destroy()
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    get(`${base as string}/games/1/replay/stream`, { agent: false }, resolve).on('error', reject)
  })
  response.pause()
  const readAll = async (): Promise<{ bytes: Buffer, complete: boolean }> => await new Promise((resolve) => {
    const chunks: Buffer[] = []
    response.on('data', (chunk: Buffer) => chunks.push(chunk))
    response.on('end', () => resolve({ bytes: Buffer.concat(chunks), complete: response.complete }))
    response.on('error', () => resolve({ bytes: Buffer.concat(chunks), complete: false }))
    response.on('aborted', () => resolve({ bytes: Buffer.concat(chunks), complete: false }))
    response.resume()
  })
  return { service, replay, response, readAll }
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')
const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

t.test('SIGTERM during a download: no new connections, the download completes, the process exits 0', async (t) => {
  const { service, replay, response, readAll } = await serviceWithStream(t)
  t.equal(response.statusCode, 200)
  service.child.kill('SIGTERM')
  await service.waitFor(/shutting down: no new connections/)
  await sleep(300)
  t.equal(service.child.exitCode, null, 'still running while the download is unfinished')
  const port = new URL(String((/curl -sL (http:\/\/[^/]+)/.exec(service.stdout()) ?? [])[1])).port
  await t.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'new connections are refused')
  const { bytes, complete } = await readAll()
  t.ok(complete, 'the download ended cleanly')
  t.equal(bytes.length, replay.length)
  t.equal(sha256(bytes), sha256(replay), 'every byte')
  t.same(await service.exited, { code: 0, signal: null })
})

t.test('a download still running at SHUTDOWN_TIMEOUT_MS is cut, and the process still exits 0', async (t) => {
  const { service, replay, readAll } = await serviceWithStream(t, { SHUTDOWN_TIMEOUT_MS: '500' })
  const started = Date.now()
  service.child.kill('SIGTERM')
  const exited = await service.exited
  t.same(exited, { code: 0, signal: null })
  t.ok(Date.now() - started < 5000, `exited ${Date.now() - started} ms after SIGTERM`)
  t.match(service.stdout(), /shutdown deadline reached/)
  const { bytes, complete } = await readAll()
  t.notOk(complete, 'the client sees a broken transfer, not a short file that looks whole')
  t.ok(bytes.length < replay.length)
})

t.test('a second signal exits at once', async (t) => {
  const { service } = await serviceWithStream(t, { SHUTDOWN_TIMEOUT_MS: '60000' })
  service.child.kill('SIGTERM')
  await service.waitFor(/shutting down/)
  const started = Date.now()
  service.child.kill('SIGTERM')
  t.equal((await service.exited).code, 1)
  t.ok(Date.now() - started < 3000, 'without waiting for the download')
})
