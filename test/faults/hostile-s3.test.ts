// S3 answering what no S3 should: a raw TCP stand-in writes the answer's
// bytes as they are, and the service must answer the contract's 502, never an
// internal error, never a part of the object passed off as the whole.
import { createServer, type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { buildTestApp, listen, seedReplays, testConfig } from '../helper.js'
import { send } from '../support/raw-http.js'

const replay = '{"replay":"0123456789abcdef"}'
const { db, bucket } = await seedReplays(t, [{ id: '1', game_folder: 'g1', replay_file: 'r.json' }])

/** The bytes S3 answers with, to a GET (with or without Range) or a HEAD. */
type Script = (request: { method: string, range: string | undefined }) => string

/** A stand-in S3 on a raw socket: every request gets the script's bytes, then the connection closes. */
async function standIn (t: Test, script: Script): Promise<{ endpoint: string, requests: Array<{ method: string, range: string | undefined }> }> {
  const requests: Array<{ method: string, range: string | undefined }> = []
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let head = ''
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      const method = head.slice(0, head.indexOf(' '))
      const range = /\r\nrange: *([^\r]*)/i.exec(head)?.[1]
      requests.push({ method, range })
      head = ''
      socket.end(script({ method, range }), 'latin1')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests }
}

/** A 200 with the given extra header lines, HTTP/1.1 with its length unless told otherwise. */
function answer ({ status = '200 OK', version = '1.1', headers = [] as string[], length = true, body = replay }: { status?: string, version?: string, headers?: string[], length?: boolean, body?: string } = {}): Script {
  return ({ method }) => [
    `HTTP/${version} ${status}`,
    'Date: Sun, 06 Dec 2026 06:00:00 GMT',
    'Last-Modified: Sat, 05 Dec 2026 06:00:00 GMT',
    ...headers,
    ...(length ? [`Content-Length: ${replay.length}`] : []),
    '',
    method === 'HEAD' ? '' : body
  ].join('\r\n')
}

const cases: Array<[string, Script]> = [
  ['a control character in ETag', answer({ headers: ['ETag: "abc\x01def"', 'Content-Type: application/json'] })],
  ['a DEL in ETag', answer({ headers: ['ETag: "abc\x7fdef"', 'Content-Type: application/json'] })],
  ['a control character in Content-Type', answer({ headers: ['ETag: "abc"', 'Content-Type: application/json\x1b[31m'] })],
  ['an HTTP/1.0 answer without Content-Length, cut short', answer({ version: '1.0', headers: ['ETag: "abc"', 'Content-Type: application/json'], length: false, body: replay.slice(0, 10) })],
  ['a 206 to a request without Range', answer({ status: '206 Partial Content', headers: ['ETag: "abc"', 'Content-Type: application/json', `Content-Range: bytes 0-${replay.length - 1}/${replay.length * 2}`] })]
]

/** The same object as S3 frames it, with its length or in chunks (a HEAD always has the length). */
const wellFormed: Array<[string, Script]> = [
  ['with its length', answer({ headers: ['ETag: "abc"', 'Content-Type: application/json'] })],
  ['in chunks', ({ method }) => method === 'HEAD'
    ? answer({ headers: ['ETag: "abc"', 'Content-Type: application/json'] })({ method, range: undefined })
    : ['HTTP/1.1 200 OK', 'ETag: "abc"', 'Content-Type: application/json', 'Transfer-Encoding: chunked', '', replay.length.toString(16), replay, '0', '', ''].join('\r\n')],
  ['as a part of it, asked for', ({ method, range }) => range === undefined
    ? answer({ headers: ['ETag: "abc"', 'Content-Type: application/json'] })({ method, range })
    : ['HTTP/1.1 206 Partial Content', 'ETag: "abc"', 'Content-Type: application/json', `Content-Range: bytes 0-9/${replay.length}`, 'Content-Length: 10', '', replay.slice(0, 10)].join('\r\n')]
]

for (const directReads of [true, false]) {
  for (const [what, script] of wellFormed) {
    t.test(`the stand-in's well-formed answer, ${what} (${directReads ? 'the service\'s own sockets' : 'the SDK'}), is served`, async (t) => {
      const s3 = await standIn(t, script)
      const storage = bucket.storage({ s3: { endpoint: s3.endpoint, directReads, connectTimeoutMs: 2000, firstByteTimeoutMs: 5000 } })
      const app = await buildTestApp(t, { config: testConfig(), db, storage })
      const port = Number(new URL(await listen(app)).port)
      const whole = await send(port, { method: 'GET', target: '/games/1/replay/stream', headers: [['Host', 'replay-gate.test']] })
      t.equal(whole.status, 200)
      t.equal(whole.body.toString(), replay)
      const part = await send(port, { method: 'GET', target: '/games/1/replay/stream', headers: [['Host', 'replay-gate.test'], ['Range', 'bytes=0-9']] })
      if (what === 'as a part of it, asked for') {
        t.equal(part.status, 206)
        t.equal(part.headers['content-range'], `bytes 0-9/${replay.length}`)
        t.equal(part.body.toString(), replay.slice(0, 10))
      } else {
        t.equal(part.status, 200, 'a range the stand-in ignores: the whole object, as S3 sends it')
      }
      const head = await send(port, { method: 'HEAD', target: '/games/1/replay', headers: [['Host', 'replay-gate.test']] })
      t.equal(head.status, 200)
      t.equal(head.headers['content-length'], String(replay.length))
      t.equal(head.headers.etag, '"abc"')
    })
  }
}

for (const directReads of [true, false]) {
  for (const [what, script] of cases) {
    t.test(`S3 answers with ${what} (${directReads ? 'the service\'s own sockets' : 'the SDK'}): 502 STORAGE_UNAVAILABLE`, async (t) => {
      const s3 = await standIn(t, script)
      const storage = bucket.storage({ s3: { endpoint: s3.endpoint, directReads, connectTimeoutMs: 2000, firstByteTimeoutMs: 5000 } })
      const app = await buildTestApp(t, { config: testConfig(), db, storage })
      const port = Number(new URL(await listen(app)).port)
      for (const method of ['GET', 'HEAD'] as const) {
        for (const path of ['/games/1/replay/stream', ...(method === 'HEAD' ? ['/games/1/replay'] : [])]) {
          const res = await send(port, { method, target: path, headers: [['Host', 'replay-gate.test']] })
          t.equal(res.status, 502, `${method} ${path}`)
          if (method === 'GET') t.match(JSON.parse(res.body.toString()), { statusCode: 502, code: 'STORAGE_UNAVAILABLE' })
          else t.equal(res.body.length, 0)
        }
      }
      const metrics = await app.inject('/metrics')
      // Node's own parser refuses some of these before the SDK sees them: no answer at all, for the metrics.
      t.match(metrics.body, /^replay_gate_s3_errors_total\{kind="(invalid|network)"\} [1-9]/m, 'counted as a failure of S3')
    })
  }
}
