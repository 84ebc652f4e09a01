// The streaming route's own GetObject reader, against a scripted HTTP peer
// that misbehaves on cue: the ways S3 and the network can go wrong at the
// socket level (kept sockets closed, bodies cut, bytes where none belong).
// The route's tests read through it from the S3 emulator, and from Ceph RGW
// (over http: and over TLS) in the real-services run.
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer as createHttpServer } from 'node:http'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { createServer as createTlsServer } from 'node:tls'
import t from 'tap'
import { requireRealPart, type Tap } from '../helper.js'
import { parseConfig } from '../../src/config/index.js'
import { directReads } from '../../src/storage/direct-reads.js'
import { readObject, requestHeaders } from '../../src/storage/object-reads.js'
import { createS3Client } from '../../src/storage/s3-client.js'
import { address, CHUNK_BYTES, KEPT_BUFFERS, ObjectBody, parseHead, pooledBuffers, SocketReads, type SocketReadsOptions } from '../../src/storage/socket-reads/index.js'
import { closedPort } from '../support/silent-server.js'
import { waitUntil } from '../support/wait.js'

type Answer = (request: string, socket: Socket, index: number) => void

/** An HTTP peer: each request (a head, no body) is answered by `answer`; it counts connections. */
async function scriptedPeer (t: Tap, answer: Answer): Promise<{ port: number, connections: () => number, open: () => number, requests: string[] }> {
  const sockets = new Set<Socket>()
  const requests: string[] = []
  let connections = 0
  const server = createServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let pending = ''
    socket.on('data', (data: Buffer) => {
      pending += data.toString('latin1')
      for (let end = pending.indexOf('\r\n\r\n'); end !== -1; end = pending.indexOf('\r\n\r\n')) {
        const request = pending.slice(0, end)
        pending = pending.slice(end + 4)
        requests.push(request)
        answer(request, socket, requests.length - 1)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return { port: (server.address() as AddressInfo).port, connections: () => connections, open: () => sockets.size, requests }
}

function head (status: string, length: number, extra = ''): string {
  return `HTTP/1.1 ${status}\r\nContent-Length: ${length}\r\nETag: "abc"\r\nContent-Type: application/x-replay\r\nLast-Modified: Thu, 26 Nov 2026 10:00:00 GMT\r\n${extra}\r\n`
}

function reads (t: Tap, port: number, options: Partial<SocketReadsOptions> = {}): SocketReads {
  const sockets = new SocketReads({ connectTimeoutMs: 1000, sign: async (key) => `http://127.0.0.1:${port}/bucket/${key}?X-Amz-Signature=s`, ...options })
  t.teardown(() => { sockets.close() })
  return sockets
}

/** A destination that keeps what it is written. */
function sink (options: { highWaterMark?: number, slow?: boolean } = {}): Writable & { bytes: () => Buffer } {
  const chunks: Buffer[] = []
  const writable = new Writable({
    highWaterMark: options.highWaterMark ?? 16 * 1024,
    write (chunk: Buffer, _encoding, callback) {
      chunks.push(Buffer.from(chunk))
      if (options.slow === true) setTimeout(callback, 1)
      else callback()
    }
  })
  return Object.assign(writable, { bytes: () => Buffer.concat(chunks) })
}

async function body (answer: Awaited<ReturnType<SocketReads['get']>>): Promise<ObjectBody> {
  if (answer === undefined) throw new Error('no body')
  return answer.body
}

t.test('parseHead: a 200 or 206 with one Content-Length, and nothing else', async (t) => {
  const parsed = parseHead(head('206 Partial Content', 10, 'Content-Range: bytes 0-9/100\r\n').trimEnd())
  t.same(parsed, {
    status: 206,
    meta: { contentLength: 10, contentRange: 'bytes 0-9/100', contentType: 'application/x-replay', etag: '"abc"', lastModified: new Date('Thu, 26 Nov 2026 10:00:00 GMT') },
    length: 10,
    keepAlive: true
  })
  t.equal(parseHead('HTTP/1.1 200\r\ncontent-length: 0')?.keepAlive, true, 'no reason phrase, no validators')
  t.equal(parseHead('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nX-Amz-Meta-A: 1\r\nX-Amz-Meta-A: 2')?.length, 1, 'a repeated header that is not framing')
  t.equal(parseHead('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close')?.keepAlive, false)
  t.equal(parseHead('HTTP/1.0 200 OK\r\nContent-Length: 1')?.keepAlive, false, 'HTTP/1.0 closes unless it says otherwise')
  t.equal(parseHead('HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: Keep-Alive')?.keepAlive, true)
  for (const other of [
    'HTTP/1.1 404 Not Found\r\nContent-Length: 10',
    'HTTP/1.1 304 Not Modified',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked',
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked',
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5',
    'HTTP/1.1 200 OK\r\nContent-Length: -5',
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nno colon here',
    'HTTP/2 200\r\nContent-Length: 5'
  ]) t.equal(parseHead(other), undefined, other.split('\r\n').join(' | '))
})

t.test('address: the host and port a URL names, 80 when it names none, IPv6 without brackets', async (t) => {
  t.same(address(new URL('http://rgw.internal/bucket/k')), { host: 'rgw.internal', port: 80 })
  t.same(address(new URL('http://127.0.0.1:7480/bucket/k')), { host: '127.0.0.1', port: 7480 })
  t.same(address(new URL('http://[::1]:9000/k')), { host: '::1', port: 9000 })
  t.same(address(new URL('https://bucket.s3.eu-west-3.amazonaws.com/k')), { host: 'bucket.s3.eu-west-3.amazonaws.com', port: 443 }, 'https: 443')
})

t.test('directReads: every endpoint, http:, https: and AWS\'s own, unless S3_DIRECT_READS is false', async (t) => {
  const signer = { signRead: async (key: string) => `http://127.0.0.1:1/bucket/${key}` }
  const s3 = parseConfig({ DATABASE_URL: 'postgres://127.0.0.1/x', S3_BUCKET: 'replays' }).s3
  for (const endpoint of ['http://s3.internal:9000', 'https://s3.internal:9000', undefined]) {
    const reads = directReads({ ...s3, endpoint }, signer, undefined)
    t.ok(reads instanceof SocketReads, String(endpoint ?? 'AWS'))
    reads?.close()
  }
  t.equal(directReads({ ...s3, directReads: false }, signer, undefined), undefined, 'S3_DIRECT_READS=false: the SDK reads every body')
  const outcomes: string[] = []
  const observed = directReads(s3, signer, (operation, outcome) => { outcomes.push(`${operation} ${outcome}`) }) as SocketReads
  await t.rejects(observed.get('k', '', new AbortController().signal), { code: 'ECONNREFUSED' })
  t.same(outcomes, ['GetObject error'], 'each answer is told to onRequest')
})

t.test('requestHeaders: the range and conditions as header lines; a line break in a value sends nothing', async (t) => {
  const since = new Date('2026-11-26T10:00:00Z')
  t.equal(requestHeaders({ range: 'bytes=0-9', ifMatch: '"a"', ifNoneMatch: '"b"', ifModifiedSince: since, ifUnmodifiedSince: since }),
    'Range: bytes=0-9\r\nIf-Match: "a"\r\nIf-None-Match: "b"\r\nIf-Modified-Since: Thu, 26 Nov 2026 10:00:00 GMT\r\nIf-Unmodified-Since: Thu, 26 Nov 2026 10:00:00 GMT\r\n')
  t.equal(requestHeaders({}), '')
  t.equal(requestHeaders({ range: 'bytes=0-9\r\nX-Injected: 1' }), undefined)
})

t.test('a body piped without a copy, and the socket kept for the next GET', async (t) => {
  const replay = randomBytes(3 * CHUNK_BYTES + 17)
  const peer = await scriptedPeer(t, (_request, socket) => {
    // In pieces, as a network delivers it: the head in two, then the body.
    const text = head('200 OK', replay.length)
    socket.write(text.slice(0, 20))
    setTimeout(() => {
      socket.write(text.slice(20))
      socket.write(replay.subarray(0, 1000))
      setTimeout(() => socket.write(replay.subarray(1000)), 5)
    }, 5)
  })
  const answers: string[] = []
  const sockets = reads(t, peer.port, { onAnswer: (outcome, seconds) => { answers.push(`${outcome} ${typeof seconds}`) } })
  for (let i = 0; i < 2; i++) {
    const answer = await sockets.get('g/1.replay', 'Range: bytes=0-\r\n', new AbortController().signal)
    t.match(answer?.meta, { contentLength: replay.length, etag: '"abc"', contentType: 'application/x-replay' })
    const object = await body(answer)
    const destination = sink()
    const closed = once(object, 'close')
    object.pipe(destination)
    await once(destination, 'finish')
    t.ok(destination.bytes().equals(replay), 'every byte, in order')
    t.equal(object.passed, replay.length)
    t.equal(object.complete, true)
    await closed
    t.equal(object.readableEnded, true, 'ended, then closed')
  }
  t.equal(peer.connections(), 1, 'one connection for both')
  t.same(answers, ['ok number', 'ok number'], 'each answer is timed')
  const errors: string[] = []
  await t.rejects(reads(t, await closedPort(), { onAnswer: (outcome) => { errors.push(outcome) } }).get('k', '', new AbortController().signal))
  t.same(errors, ['error'], 'no answer is timed as an error')
  t.match(peer.requests[0], /^GET \/bucket\/g\/1\.replay\?X-Amz-Signature=s HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\nUser-Agent: replay-gate\r\nRange: bytes=0-$/)
})

t.test('a body read without a pipe: a copy of each chunk; a slow destination pauses S3\'s socket', async (t) => {
  const replay = randomBytes(8 * CHUNK_BYTES)
  const peer = await scriptedPeer(t, (_request, socket) => { socket.write(Buffer.concat([Buffer.from(head('200 OK', replay.length)), replay])) })
  const sockets = reads(t, peer.port)
  const read = await body(await sockets.get('k', '', new AbortController().signal))
  const chunks: Buffer[] = []
  for await (const chunk of read) chunks.push(chunk as Buffer)
  t.ok(Buffer.concat(chunks).equals(replay))
  t.equal(read.complete, true)

  const slow = sink({ highWaterMark: 1, slow: true })
  const piped = await body(await sockets.get('k', '', new AbortController().signal))
  piped.pipe(slow)
  await once(slow, 'finish')
  t.ok(slow.bytes().equals(replay), 'whole, through every pause')
  t.equal(peer.connections(), 1)
})

t.test('a destination that takes each chunk at once is written to without pausing S3\'s socket; one that holds bytes pauses it', async (t) => {
  const replay = randomBytes(16 * CHUNK_BYTES)
  const peer = await scriptedPeer(t, (_request, socket) => { socket.write(Buffer.concat([Buffer.from(head('200 OK', replay.length)), replay])) })
  const sockets = reads(t, peer.port)
  /** Pipes the next GET with `pipe` (which resolves to the bytes that arrived), counting how often reading from S3's socket stopped. */
  const stops = async (pipe: (object: ObjectBody) => Promise<Buffer>): Promise<number> => {
    const object = await body(await sockets.get('k', '', new AbortController().signal))
    const handle = (object as unknown as { connection: { socket: { _handle: { readStop: () => number } } } }).connection.socket._handle
    const readStop = handle.readStop
    let count = 0
    handle.readStop = function (this: unknown) { count++; return readStop.call(this) }
    t.teardown(() => { handle.readStop = readStop })
    t.ok((await pipe(object)).equals(replay), 'every byte')
    handle.readStop = readStop
    return count
  }
  const toSink = (destination: Writable & { bytes: () => Buffer }) => async (object: ObjectBody): Promise<Buffer> => {
    object.pipe(destination)
    await once(destination, 'finish')
    return destination.bytes()
  }
  // Each chunk is 64 KiB, far above each destination's high-water mark.
  t.ok(await stops(toSink(sink({ highWaterMark: 1024 }))) <= 1, 'a destination that writes at once: at most once, when the body is whole')
  t.ok(await stops(toSink(sink({ highWaterMark: 1024, slow: true }))) >= 6, 'a slow one: at every other chunk at least')

  // An HTTP response with a length, as the route sends: it corks its socket
  // until the next tick, so that its write() answers false for every chunk,
  // even when the client reads as fast as it comes.
  let next: ObjectBody | undefined
  const server = createHttpServer((_request, response) => { response.setHeader('content-length', replay.length); (next as ObjectBody).pipe(response) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const throughHttp = async (object: ObjectBody): Promise<Buffer> => {
    next = object
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    return Buffer.from(await response.arrayBuffer())
  }
  t.ok(await stops(throughHttp) <= 4, 'a response read as fast as it comes: hardly ever')
  t.equal(peer.connections(), 1)
})

t.test('a body that came whole with the head, piped or read', async (t) => {
  const peer = await scriptedPeer(t, (_request, socket) => { socket.write(`${head('200 OK', 5)}hello`) })
  const sockets = reads(t, peer.port)
  const destination = sink()
  ;(await body(await sockets.get('k', '', new AbortController().signal))).pipe(destination)
  await once(destination, 'finish')
  t.equal(destination.bytes().toString(), 'hello')
  const read = await body(await sockets.get('k', '', new AbortController().signal))
  const chunks: Buffer[] = []
  for await (const chunk of read) chunks.push(chunk as Buffer)
  t.equal(Buffer.concat(chunks).toString(), 'hello')
  const empty = await scriptedPeer(t, (_request, socket) => { socket.write(head('200 OK', 0)) })
  const nothing = sink()
  ;(await body(await reads(t, empty.port).get('k', '', new AbortController().signal))).pipe(nothing)
  await once(nothing, 'finish')
  t.equal(nothing.bytes().length, 0, 'an empty object ends at once')
})

t.test('piped with end: false, or once already flowing: an ordinary stream, every byte', async (t) => {
  const replay = randomBytes(2 * CHUNK_BYTES)
  const peer = await scriptedPeer(t, (_request, socket) => { socket.write(Buffer.concat([Buffer.from(head('200 OK', replay.length)), replay])) })
  const sockets = reads(t, peer.port)
  const kept = sink()
  const open = await body(await sockets.get('k', '', new AbortController().signal))
  open.pipe(kept, { end: false })
  await once(open, 'end')
  t.ok(kept.bytes().equals(replay))
  t.equal(kept.writableEnded, false, 'the destination is left open')

  const flowing = await body(await sockets.get('k', '', new AbortController().signal))
  let counted = 0
  flowing.on('data', (chunk: Buffer) => { counted += chunk.length })
  const second = sink()
  flowing.pipe(second)
  await once(second, 'finish')
  t.equal(counted, replay.length)
  t.ok(second.bytes().equals(replay))
})

t.test(`the pool keeps at most ${KEPT_BUFFERS} free buffers, however many were out at once`, async (t) => {
  const replay = randomBytes((KEPT_BUFFERS + 20) * CHUNK_BYTES)
  const peer = await scriptedPeer(t, (_request, socket) => { socket.write(Buffer.concat([Buffer.from(head('200 OK', replay.length)), replay])) })
  // A destination that takes every chunk at once and says when its socket has sent them only later.
  const held: Array<() => void> = []
  const chunks: Buffer[] = []
  const holding = Object.assign(new EventEmitter(), {
    write: (chunk: Buffer, sent?: () => void) => { chunks.push(Buffer.from(chunk)); if (sent !== undefined) held.push(sent); return true },
    end: () => { holding.emit('finish') }
  })
  ;(await body(await reads(t, peer.port).get('k', '', new AbortController().signal))).pipe(holding as unknown as Writable)
  await once(holding, 'finish')
  t.ok(Buffer.concat(chunks).equals(replay))
  t.ok(held.length > KEPT_BUFFERS, `${held.length} buffers out at once`)
  for (const sent of held) sent()
  t.equal(pooledBuffers(), KEPT_BUFFERS)
})

t.test('an answer other than a 200 or 206 with a length is left to the SDK; its socket is not kept', async (t) => {
  const peer = await scriptedPeer(t, (request, socket, index) => {
    if (index === 0) socket.write('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nNoSuchKey')
    else socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
  })
  const sockets = reads(t, peer.port)
  t.equal(await sockets.get('k', '', new AbortController().signal), undefined)
  t.equal(await sockets.get('k', '', new AbortController().signal), undefined)
  t.equal(peer.connections(), 2)
})

t.test('a kept socket that S3 closed meanwhile: the GET is sent again on a new one', async (t) => {
  const peer = await scriptedPeer(t, (_request, socket, index) => {
    if (index === 1) socket.destroy() // the second request, on the kept socket
    else socket.write(`${head('200 OK', 2)}ok`)
  })
  const sockets = reads(t, peer.port)
  for (let i = 0; i < 2; i++) {
    const destination = sink()
    ;(await body(await sockets.get('k', '', new AbortController().signal))).pipe(destination)
    await once(destination, 'finish')
    t.equal(destination.bytes().toString(), 'ok')
  }
  t.equal(peer.requests.length, 3)
  t.equal(peer.connections(), 2)
})

t.test('no answer: refused, closed before answering, an oversized head, aborted', async (t) => {
  const signal = new AbortController().signal
  await t.rejects(reads(t, await closedPort()).get('k', '', signal), { code: 'ECONNREFUSED' })
  const hangUp = await scriptedPeer(t, (_request, socket) => { socket.destroy() })
  await t.rejects(reads(t, hangUp.port).get('k', '', signal), { code: 'ECONNRESET', retry: false }, 'a new socket is not asked again')
  const chatty = await scriptedPeer(t, (_request, socket) => { socket.write(`HTTP/1.1 200 OK\r\nX-Pad: ${'a'.repeat(40 * 1024)}`) })
  await t.rejects(reads(t, chatty.port).get('k', '', signal), { code: 'EPROTO' })
  const silent = await scriptedPeer(t, () => {})
  const controller = new AbortController()
  setTimeout(() => { controller.abort() }, 50)
  await t.rejects(reads(t, silent.port).get('k', '', controller.signal), { name: 'AbortError' })
  await t.rejects(reads(t, silent.port).get('k', '', controller.signal), { name: 'AbortError' }, 'aborted before it began')
  t.ok(await waitUntil(() => silent.open() === 0 ? true : undefined), 'the aborted socket is closed')
})

t.test('no connection in time, or aborted while connecting', async (t) => {
  const python = spawnSync('python3', ['-c', ''])
  if (requireRealPart(t, 'the connect timeout test (a listener that never accepts)', python.error === undefined ? undefined : `python3 cannot run (${python.error.message})`) !== false) return
  // A listener that never accepts, its queue filled: a SYN to it goes unanswered.
  const listener = spawn('python3', ['-c', 'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)'], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => listener.kill())
  const [line] = await once(listener.stdout, 'data') as [Buffer]
  const port = Number(line.toString().trim())
  const fillers: Socket[] = []
  t.teardown(() => { for (const filler of fillers) filler.destroy() })
  for (let i = 0; i < 3; i++) fillers.push(connect(port, '127.0.0.1').on('error', () => {}))
  const started = Date.now()
  await t.rejects(reads(t, port, { connectTimeoutMs: 200 }).get('k', '', new AbortController().signal), { name: 'TimeoutError' })
  t.ok(Date.now() - started < 5000, 'in about the connect timeout')
  const controller = new AbortController()
  setTimeout(() => { controller.abort() }, 100)
  await t.rejects(reads(t, port, { connectTimeoutMs: 10_000 }).get('k', '', controller.signal), { name: 'AbortError' })
})

t.test('S3 cuts the body: it fails, it never ends as if whole', async (t) => {
  const peer = await scriptedPeer(t, (_request, socket) => {
    socket.write(head('200 OK', 4 * CHUNK_BYTES))
    socket.write(randomBytes(CHUNK_BYTES), () => { setTimeout(() => socket.destroy(), 10) })
  })
  const object = await body(await reads(t, peer.port).get('k', '', new AbortController().signal))
  const destination = sink()
  object.pipe(destination)
  const [error] = await once(object, 'error') as [Error & { code: string }]
  t.equal(error.code, 'ECONNRESET')
  t.match(error.message, /bytes of the body unread/)
  t.equal(object.complete, false)
  t.equal(destination.writableEnded, false, 'the destination is not ended')
})

t.test('a body left unread closes its socket; bytes beyond a body, or while a socket waits, mean it is not used again', async (t) => {
  const peer = await scriptedPeer(t, (_request, socket, index) => {
    if (index === 0) socket.write(`${head('200 OK', 2)}ok`) // then destroyed unread
    else if (index === 1) socket.write(`${head('200 OK', 2)}okEXTRA`)
    else if (index === 2) {
      socket.write(head('200 OK', 2))
      setTimeout(() => socket.write('okEXTRA'), 10)
    } else {
      socket.write(`${head('200 OK', 2)}ok`)
      setTimeout(() => socket.write('stray'), 50)
    }
  })
  const sockets = reads(t, peer.port)
  const dropped = await sockets.get('k', '', new AbortController().signal)
  dropped?.body.destroy()
  t.equal(dropped?.body.complete, false, 'nothing was handed on')
  for (let i = 0; i < 3; i++) {
    const destination = sink()
    ;(await body(await sockets.get('k', '', new AbortController().signal))).pipe(destination)
    await once(destination, 'finish')
    t.equal(destination.bytes().toString(), 'ok', 'only the body is passed on')
  }
  t.ok(await waitUntil(() => peer.open() === 0 ? true : undefined), 'the socket that got stray bytes while it waited is closed')
  t.equal(peer.connections(), 4, 'each socket was used once')

  const unread = await scriptedPeer(t, (_request, socket) => { socket.write(`${head('200 OK', 3 * CHUNK_BYTES)}${'x'.repeat(100)}`) })
  ;(await body(await reads(t, unread.port).get('k', '', new AbortController().signal))).destroy()
  t.ok(await waitUntil(() => unread.open() === 0 ? true : undefined), 'a body destroyed before its end closes the socket')
})

t.test('free sockets: at most maxFreeSockets, each for idleMs; another host gets a socket of its own; close() closes them', async (t) => {
  const peer = await scriptedPeer(t, (_request, socket) => { socket.write(`${head('200 OK', 2)}ok`) })
  const download = async (sockets: SocketReads): Promise<void> => {
    const destination = sink()
    ;(await body(await sockets.get('k', '', new AbortController().signal))).pipe(destination)
    await once(destination, 'finish')
  }
  const one = reads(t, peer.port, { maxFreeSockets: 1, idleMs: 100 })
  await Promise.all([download(one), download(one)])
  t.ok(await waitUntil(() => peer.open() === 1 ? true : undefined), 'one of the two is kept')
  t.ok(await waitUntil(() => peer.open() === 0 ? true : undefined), 'and closed when idle too long')

  let host = '127.0.0.1'
  const hosts = reads(t, peer.port, { sign: async (key) => `http://${host}:${peer.port}/bucket/${key}` })
  await download(hosts)
  host = '127.0.0.2'
  await download(hosts)
  t.equal(peer.connections(), 4, 'a socket to one host is not used for another')
  t.ok(await waitUntil(() => peer.open() === 1 ? true : undefined))
  hosts.close()
  t.ok(await waitUntil(() => peer.open() === 0 ? true : undefined), 'close() closes the free ones')
})

t.test('a client gone before the read begins: S3 is not asked', async (t) => {
  const peer = await scriptedPeer(t, (_request, socket) => { socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi') })
  const client = createS3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${peer.port}`, forcePathStyle: true, connectTimeoutMs: 1000, credentials: { accessKeyId: 'a', secretAccessKey: 's' } })
  t.teardown(() => { client.destroy() })
  const gone = new AbortController()
  gone.abort()
  await t.rejects(readObject({ client, bucket: 'bucket', firstByteTimeoutMs: 1000, sockets: reads(t, peer.port) }, { gameId: '1', key: 'k', request: {}, signal: gone.signal }), { name: 'AbortError' })
  t.equal(peer.requests.length, 0)
  t.equal(peer.connections(), 0)
})

t.test('a 200 without a length is read through the SDK, counted the same way', async (t) => {
  const peer = await scriptedPeer(t, (_request, socket) => { socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nETag: "abc"\r\n\r\n5\r\nhello\r\n0\r\n\r\n') })
  const client = createS3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${peer.port}`, forcePathStyle: true, connectTimeoutMs: 1000, credentials: { accessKeyId: 'a', secretAccessKey: 's' } })
  t.teardown(() => { client.destroy() })
  const answer = await readObject({ client, bucket: 'bucket', firstByteTimeoutMs: 1000, sockets: reads(t, peer.port) }, { gameId: '1', key: 'k', request: {}, signal: new AbortController().signal })
  if (answer.status !== 200) throw new Error(`answered ${answer.status}`)
  t.equal(answer.meta.etag, '"abc"')
  t.same(answer.progress(), { bytes: 0, complete: false })
  const destination = sink()
  answer.body.pipe(destination)
  await once(destination, 'finish')
  t.equal(destination.bytes().toString(), 'hello')
  t.same(answer.progress(), { bytes: 5, complete: true })
  t.equal(peer.requests.length, 2, 'asked once over the socket, once through the SDK')
  t.match(peer.requests[1], /^GET \/bucket\/k\?x-id=GetObject HTTP\/1\.1/)
  const sdkOnly = await readObject({ client, bucket: 'bucket', firstByteTimeoutMs: 1000 }, { gameId: '1', key: 'k', request: {}, signal: new AbortController().signal })
  if (sdkOnly.status !== 200) throw new Error(`answered ${sdkOnly.status}`)
  sdkOnly.body.resume()
  await once(sdkOnly.body, 'end')
  t.equal(peer.requests.length, 3, 'without socket reads (an https: endpoint), through the SDK alone')
})

/** A certificate for 127.0.0.1 and localhost, self-signed, from openssl; undefined when openssl cannot run. */
async function certificate (t: Tap): Promise<{ key: Buffer, cert: Buffer } | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'replay-gate-tls-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { encoding: 'utf8' })
  /* c8 ignore next: the machines this runs on have openssl */
  if (made.status !== 0) return undefined
  return { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }
}

t.test('an https: endpoint: the same reads over TLS, the socket kept; a certificate that is not trusted is no answer', async (t) => {
  const pair = await certificate(t)
  if (requireRealPart(t, 'the TLS test', pair === undefined ? 'openssl cannot make a certificate' : undefined) !== false || pair === undefined) return
  const replay = randomBytes(5 * CHUNK_BYTES + 3)
  let connections = 0
  const servernames: Array<string | false> = []
  const server = createTlsServer({ ...pair }, (socket) => {
    connections++
    servernames.push((socket as unknown as { servername: string | false }).servername)
    socket.on('error', () => {})
    let pending = ''
    socket.on('data', (data: Buffer) => {
      pending += data.toString('latin1')
      if (!pending.includes('\r\n\r\n')) return
      pending = ''
      socket.write(Buffer.concat([Buffer.from(head('200 OK', replay.length)), replay]))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  t.teardown(() => { server.close() })
  const trusted = reads(t, port, { sign: async (key) => `https://127.0.0.1:${port}/bucket/${key}`, tls: { ca: pair.cert } })
  for (let i = 0; i < 2; i++) {
    const destination = sink()
    ;(await body(await trusted.get('k', '', new AbortController().signal))).pipe(destination)
    await once(destination, 'finish')
    t.ok(destination.bytes().equals(replay), 'every byte, decrypted into the pooled buffers')
  }
  t.equal(connections, 1, 'one TLS connection for both')
  const named = reads(t, port, { sign: async (key) => `https://localhost:${port}/bucket/${key}`, tls: { ca: pair.cert } })
  const destination = sink()
  ;(await body(await named.get('k', '', new AbortController().signal))).pipe(destination)
  await once(destination, 'finish')
  t.same(servernames, [false, 'localhost'], 'SNI names a host, never an address')
  await t.rejects(reads(t, port, { sign: async (key) => `https://127.0.0.1:${port}/bucket/${key}` }).get('k', '', new AbortController().signal),
    { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'a certificate no CA vouches for: no answer')
})
