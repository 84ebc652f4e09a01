// Connections during a shutdown, on the real entry point and real sockets:
// kept-alive connections, answers begun before the drain, a request that
// arrives while the service closes, and the deadline.
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { sha256 } from './support/bytes.js'
import { localDataDir, spawnEntry } from './support/spawn-service.js'
import { serviceWithStream } from './support/stream-service.js'
import { sleep, waitUntil } from './support/wait.js'

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

t.test('at the deadline with no download running, the connections left are closed and nothing is said to be cut', async (t) => {
  const dataDir = await localDataDir(t)
  const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'warn', SHUTDOWN_TIMEOUT_MS: '500' })
  t.teardown(() => { service.child.kill('SIGKILL') })
  const [, base] = await service.waitFor(/curl -sL (http:\/\/127\.0\.0\.1:\d+)\/games\/1\/replay /)
  // A request whose headers never end: the connection is busy, yet no answer has begun.
  const slow = await socketTo(Number(new URL(base as string).port))
  slow.socket.write('GET /healthz HTTP/1.1\r\nHost: gate\r\n')
  await sleep(200)
  service.child.kill('SIGTERM')
  t.same(await service.exited, { code: 0, signal: null })
  await slow.closed
  t.equal(slow.bytes().length, 0, 'the connection was closed without an answer')
  t.notMatch(service.stdout(), /cutting/, 'no download was running')
})
