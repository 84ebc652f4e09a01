// Answers written on the socket, for requests Node's parser refuses, must
// respect HTTP like every other: no body for a HEAD, nothing inside another
// answer's body, no 408 for a request that was answered.
import t from 'tap'
import { parseConfig } from '../../src/config/index.js'
import { loggerOptions } from '../../src/observability/logging.js'
import { buildTestApp, listen, seedReplays, testConfig } from '../helper.js'
import { rawConnection } from '../support/raw-http.js'
import { sleep, waitUntil } from '../support/wait.js'

const big = Buffer.alloc(64 * 1024 * 1024, 7)
const { db, bucket } = await seedReplays(t, [{ id: '1', game_folder: 'g', replay_file: 'big.bin', body: big }])
const http = { ...parseConfig({}).http, headersTimeoutMs: 300, requestTimeoutMs: 600 }
const app = await buildTestApp(t, { config: testConfig({ http }), db, storage: bucket.storage() })
const { port } = new URL(await listen(app))

t.test('a refused request is logged by its error code and message, never with the bytes read', async (t) => {
  const lines: string[] = []
  const logged = await buildTestApp(t, { config: testConfig({ http }), db, storage: bucket.storage(), logger: loggerOptions('debug', { write: (line) => lines.push(line) }) })
  const connection = await rawConnection(new URL(await listen(logged)).port)
  connection.socket.write('GET /games/1/replay HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer RAWTOKEN\r\nCookie: sid=RAWCOOKIE\r\nBad Header\r\n\r\n')
  await connection.closed
  t.match(connection.received(), /^HTTP\/1\.1 400 /)
  const entry = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.msg === 'client error')
  t.match(entry, { code: 'HPE_INVALID_HEADER_TOKEN', reason: String })
  t.notOk(lines.join('').includes('RAW'), 'neither the Authorization nor the Cookie header reaches the log')
  t.notMatch(lines.join(''), /rawPacket/)
})

t.test('a HEAD whose headers are too large: 431 without a body', async (t) => {
  const connection = await rawConnection(port)
  connection.socket.write(`HEAD /healthz HTTP/1.1\r\nHost: t\r\nX-Filler: ${'a'.repeat(20_000)}\r\n\r\n`)
  await connection.closed
  const [head, body] = connection.received().split('\r\n\r\n')
  t.match(head, /^HTTP\/1\.1 431 /)
  t.match(head, /\r\nContent-Length: \d+/, 'the length the body would have')
  t.equal(body, '', 'and no body: the client\'s framing holds')

  const get = await rawConnection(port)
  get.socket.write(`GET /healthz HTTP/1.1\r\nHost: t\r\nX-Filler: ${'a'.repeat(20_000)}\r\n\r\n`)
  await get.closed
  t.match(get.received(), /\r\n\r\n\{"statusCode":431,"code":"HEADERS_TOO_LARGE"/, 'a GET gets the JSON body')
})

t.test('a malformed request pipelined behind a running download: nothing written into the download', async (t) => {
  const connection = await rawConnection(port)
  connection.socket.write('GET /games/1/replay/stream HTTP/1.1\r\nHost: t\r\n\r\n')
  await waitUntil(() => connection.received().includes('\r\n\r\n') ? true : undefined)
  connection.socket.write('GARBAGE\r\n\r\n')
  await connection.closed
  const received = connection.received()
  t.match(received, /^HTTP\/1\.1 200 /)
  t.notMatch(received.slice(received.indexOf('\r\n\r\n')), /HTTP\/1\.1 400/, 'no status line inside the body')
  t.ok(received.length - received.indexOf('\r\n\r\n') - 4 < big.length, 'the connection is closed, as Node closes it: the client sees a cut download')
})

t.test('a request whose body trickles in: answered once, and no late 408 on its connection', async (t) => {
  const connection = await rawConnection(port)
  // A body is announced and never finished: the route answers anyway.
  connection.socket.write('GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab')
  await waitUntil(() => /\r\n\r\n\{"status":"ok"\}/.test(connection.received()) ? true : undefined)
  await sleep(1000) // past HTTP_REQUEST_TIMEOUT_MS (600): what Node does once it runs out is what is tested
  await connection.closed
  t.match(connection.received(), /^HTTP\/1\.1 200 /)
  t.notMatch(connection.received(), /HTTP\/1\.1 408 /, 'no answer to a request that was answered')
})

t.test('headers that never end still get their 408', async (t) => {
  const connection = await rawConnection(port)
  connection.socket.write('GET /healthz HTTP/1.1\r\nHost: t\r\n')
  await connection.closed
  t.match(connection.received(), /^HTTP\/1\.1 408 [^]*"code":"REQUEST_TIMEOUT"/)
})
