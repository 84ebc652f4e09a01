// Graceful shutdown of the real entry point: SIGTERM while a download runs.
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { randomBytes } from 'node:crypto'
import { Agent, get, type IncomingMessage } from 'node:http'
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { DEMO_GAME } from '../src/local/demo-seed.js'
import { EMULATOR_CREDENTIALS } from '../src/local/s3-emulator.js'
import { createS3Client } from '../src/storage/s3-client.js'
import type { Tap } from './helper.js'
import { sha256 } from './support/bytes.js'
import { localDataDir, spawnEntry, type Service } from './support/spawn-service.js'
import { sleep, waitUntil } from './support/wait.js'

/** Local mode with a large demo replay, and a download of it through /stream that reads nothing until told to. */
async function serviceWithStream (t: Tap, env: Record<string, string> = {}, { keepAlive = false } = {}): Promise<{
  service: Service, port: number, replay: Buffer, response: IncomingMessage, readAll: () => Promise<{ bytes: Buffer, complete: boolean }>
}> {
  const dataDir = await localDataDir(t)
  const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env })
  t.teardown(() => { service.child.kill('SIGKILL') })
  const [, base] = await service.waitFor(/curl -sL (http:\/\/127\.0\.0\.1:\d+)\/games\/1\/replay /)
  const [, s3Endpoint] = await service.waitFor(/S3 emulator at (http:\/\/127\.0\.0\.1:\d+)/)
  const replay = randomBytes(24 * 1024 * 1024)
  const s3 = createS3Client({ region: 'us-east-1', endpoint: s3Endpoint, forcePathStyle: true, connectTimeoutMs: 2000, credentials: EMULATOR_CREDENTIALS })
  await s3.send(new PutObjectCommand({ Bucket: 'replays', Key: `${DEMO_GAME.folder}/${DEMO_GAME.file}`, Body: replay }))
  s3.destroy()
  // A kept-alive connection is what browsers and balancers use: the service must not wait for it to idle out.
  const agent = keepAlive ? new Agent({ keepAlive: true }) : false
  if (agent !== false) t.teardown(() => { agent.destroy() })
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    get(`${base as string}/games/1/replay/stream`, { agent }, resolve).on('error', reject)
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
  return { service, port: Number(new URL(base as string).port), replay, response, readAll }
}

t.test('SIGTERM during a download: no new connections, the download completes, the process exits 0', async (t) => {
  const { service, replay, response, readAll } = await serviceWithStream(t)
  t.equal(response.statusCode, 200)
  service.child.kill('SIGTERM')
  await service.waitFor(/shutting down: no new connections/)
  const port = new URL(String((/curl -sL (http:\/\/[^/]+)/.exec(service.stdout()) ?? [])[1])).port
  // The listener closes just after that line is logged: wait for a refused connection rather than a
  // fixed time (an answer, or a kept-alive connection cut, is not that yet).
  const refused = await waitUntil(async () => await fetch(`http://127.0.0.1:${port}/healthz`).then(() => undefined,
    (error: Error) => (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED' ? true : undefined))
  t.ok(refused, 'new connections are refused')
  t.equal(service.child.exitCode, null, 'still running while the download is unfinished')
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
  // Local mode's banner (how to try it) is for the person who started it; every log line is JSON.
  const lines = service.stdout().split('\n').filter((line) => line.startsWith('{'))
  t.notMatch(service.stdout(), /^second SIGTERM/m, 'close-with-grace\'s own message is no plain-text line')
  t.match(lines.map((line) => JSON.parse(line) as { msg: string }).slice(-2), [{ msg: 'shutting down: no new connections, running downloads may finish' }, { msg: 'second SIGTERM, exiting' }])
})

t.test('SHUTDOWN_DELAY_MS: /readyz answers 503 at once while requests are still served, then the listener closes', async (t) => {
  const dataDir = await localDataDir(t)
  const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'warn', SHUTDOWN_DELAY_MS: '1500' })
  t.teardown(() => { service.child.kill('SIGKILL') })
  const [, base] = await service.waitFor(/curl -sL (http:\/\/127\.0\.0\.1:\d+)\/games\/1\/replay /)
  const ready = await fetch(`${base as string}/readyz`)
  t.equal(ready.status, 200, 'ready, and that answer is now kept a second')
  const signalled = Date.now()
  service.child.kill('SIGTERM')
  await service.waitFor(/draining: \/readyz answers 503/)
  const draining = await fetch(`${base as string}/readyz`)
  t.equal(draining.status, 503, 'not the kept ready answer: the drain shows at once')
  t.match(await draining.json(), { status: 'draining' })
  t.equal((await fetch(`${base as string}/games/1/replay`, { redirect: 'manual' })).status, 302, 'requests are still served')
  t.equal((await service.exited).code, 0)
  t.ok(Date.now() - signalled >= 1500, 'the listener closed after the delay')
})

t.test('the process exits as soon as the last download ends, not at the deadline, and cuts nothing', async (t) => {
  const { service, replay, response, readAll } = await serviceWithStream(t, { SHUTDOWN_TIMEOUT_MS: '60000' }, { keepAlive: true })
  t.equal(response.headers.connection, 'keep-alive', 'a kept-alive connection, begun before the shutdown')
  service.child.kill('SIGTERM')
  await service.waitFor(/shutting down: no new connections/)
  const { bytes, complete } = await readAll()
  const ended = Date.now()
  t.ok(complete)
  t.equal(bytes.length, replay.length)
  t.same(await service.exited, { code: 0, signal: null })
  const after = Date.now() - ended
  t.ok(after < 30_000, `exited ${after} ms after the download ended, long before the 60 s deadline`)
  t.comment(`exit ${after} ms after the last download ended`)
  t.notMatch(service.stdout(), /deadline reached|cutting/, 'no download was cut, and none is said to be')
})

/** A connection of the test's own, its bytes kept as they come. */
async function socketTo (port: number): Promise<{ socket: Socket, bytes: () => Buffer, closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => { resolve() }))
  return { socket, bytes: () => Buffer.concat(chunks), closed }
}

/** The answer that starts at `from` in `raw`: its status, headers and body (by Content-Length), and where the next one starts. */
function answerAt (raw: Buffer, from = 0): { status: number, headers: Record<string, string>, body: Buffer, next: number } {
  const end = raw.indexOf('\r\n\r\n', from)
  if (end < 0) throw new Error(`no complete answer at byte ${from} of ${raw.length}`)
  const [statusLine, ...lines] = raw.subarray(from, end).toString('latin1').split('\r\n')
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
  const length = Number(headers['content-length'] ?? 0)
  return { status: Number((statusLine as string).split(' ')[1]), headers, body: raw.subarray(end + 4, end + 4 + length), next: end + 4 + length }
}

t.test('from the drain on: idle kept-alive connections are closed, and every answer says Connection: close', async (t) => {
  const dataDir = await localDataDir(t)
  const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'warn', SHUTDOWN_DELAY_MS: '3000' })
  t.teardown(() => { service.child.kill('SIGKILL') })
  const [, base] = await service.waitFor(/curl -sL (http:\/\/127\.0\.0\.1:\d+)\/games\/1\/replay /)
  const port = Number(new URL(base as string).port)
  const idle = await socketTo(port)
  idle.socket.write('GET /healthz HTTP/1.1\r\nHost: gate\r\n\r\n')
  await waitUntil(() => idle.bytes().includes('{"status":"ok"}') ? true : undefined)
  t.equal(answerAt(idle.bytes()).headers.connection, 'keep-alive', 'before the drain, the connection is kept')

  service.child.kill('SIGTERM')
  await service.waitFor(/draining: \/readyz answers 503/)
  t.ok(await Promise.race([idle.closed.then(() => true), sleep(10_000).then(() => undefined)]), 'the idle connection is closed at the drain\'s start')

  const during = await socketTo(port)
  during.socket.write('GET /games/1/replay HTTP/1.1\r\nHost: gate\r\n\r\n')
  await during.closed
  const answer = answerAt(during.bytes())
  t.equal(answer.status, 302, 'still served during the drain')
  t.equal(answer.headers.connection, 'close', 'and the connection is closed after it')
  t.same(await service.exited, { code: 0, signal: null })
})

t.test('a request on a kept-alive connection while the service closes: the contract\'s 503 SHUTTING_DOWN, then the connection closes', async (t) => {
  const { service, port, replay, response } = await serviceWithStream(t, { SHUTDOWN_TIMEOUT_MS: '60000' })
  response.destroy() // only the upload of the large replay was wanted from it
  // A download that this client does not read yet: the connection stays busy through the close.
  const busy = await socketTo(port)
  busy.socket.pause()
  busy.socket.write('GET /games/1/replay/stream HTTP/1.1\r\nHost: gate\r\n\r\n')
  await sleep(200)
  service.child.kill('SIGTERM')
  await service.waitFor(/shutting down: no new connections/)
  // Pipelined after the download, on the same connection.
  busy.socket.write('GET /games/1/replay HTTP/1.1\r\nHost: gate\r\n\r\n')
  await sleep(200)
  busy.socket.resume()
  await busy.closed
  const download = answerAt(busy.bytes())
  t.equal(download.status, 200)
  t.equal(sha256(download.body), sha256(replay), 'the download began before the close ends whole')
  const refused = answerAt(busy.bytes(), download.next)
  t.equal(refused.status, 503)
  t.equal(refused.headers['retry-after'], '1')
  t.equal(refused.headers.connection, 'close')
  t.same(JSON.parse(refused.body.toString()), { statusCode: 503, code: 'SHUTTING_DOWN', error: 'Service Unavailable', message: 'This instance is shutting down; try again, another one will answer' })
  t.same(await service.exited, { code: 0, signal: null })
  t.notMatch(service.stdout(), /deadline reached/)
})
