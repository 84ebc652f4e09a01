// GetObject for the streaming route, over keep-alive sockets of the
// service's own. The request is signed as a presigned GET (the range and the
// conditions go along as plain headers, which S3 does not sign in a
// presigned request), and S3's answer is read with a small HTTP/1.1 reader:
// the body's chunks are read from the socket into buffers of a pool and
// written to the client's socket as they are; a buffer goes back to the pool
// once the client's socket has taken its bytes.
//
// Node's HTTP client allocates two fresh buffers for every chunk (the
// socket's read, then the parser's copy of the body); at hundreds of MiB a
// second, their memory outside the heap makes V8 collect garbage tens of
// times a second, which cost the service more CPU than the kernel's own
// copies. Only a 200 or 206 with a Content-Length is read here: any other
// answer (an error, 304, 412, 416, a chunked body) is asked for again
// through the SDK, which reads it the way every other S3 call is read.
import { connect, type Socket } from 'node:net'
import { Readable, type Writable } from 'node:stream'
import type { ReadSignal } from './cancellation.js'
import type { ObjectMeta } from './object-reads.js'

/**
 * The most a socket read takes (libuv's own size), and the size of each
 * pooled buffer. Reads of 256 KiB made no difference beyond the noise in the
 * stream benchmark, and let the kernel's TCP buffers behind a slow client grow
 * larger.
 */
export const CHUNK_BYTES = 64 * 1024
/** Free buffers kept for reuse (8 MiB); beyond that, a returned buffer is left to the garbage collector. */
export const KEPT_BUFFERS = 128
/** S3 answers with a few hundred bytes of headers; anything near this is not S3. */
const MAX_HEAD_BYTES = 32 * 1024

const buffers: Buffer[] = []
const EMPTY = Buffer.alloc(0)

function takeBuffer (): Buffer {
  return buffers.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES)
}

function giveBuffer (buffer: Buffer): void {
  if (buffers.length < KEPT_BUFFERS) buffers.push(buffer)
}

function release (buffer: Buffer | undefined): void {
  if (buffer !== undefined) giveBuffer(buffer)
}

/** How many free buffers the pool holds (for tests). */
export function pooledBuffers (): number {
  return buffers.length
}

/** What S3 answered before any byte of the body, and the body to pass on. */
export interface SocketAnswer {
  meta: ObjectMeta
  body: ObjectBody
}

export interface SocketReadsOptions {
  connectTimeoutMs: number
  /** The URL to GET for a key, signed now: an http: URL (a TLS endpoint is read through the SDK). */
  sign: (key: string) => Promise<string>
  /** Free sockets kept open to S3 (default 64), each for at most idleMs (default 4 s, shorter than S3's own idle timeouts). */
  maxFreeSockets?: number
  idleMs?: number
  /** Told of each request answered with a body read here (ok) or not answered (error), with the seconds until the headers were read. */
  onAnswer?: ((outcome: 'ok' | 'error', seconds: number) => void) | undefined
}

type ReadHandler = (length: number, buffer: Buffer) => boolean

/**
 * A kept socket's error listener, defined here: one made where the socket was
 * opened would keep that first request's closures (its signal among them)
 * for as long as the socket lives.
 */
function ignoreError (): void {}

/** Thrown when no answer came; named like the SDK's errors, so that s3FailureKind reads it the same way. */
function noAnswer (message: string, fields: { name?: string, code?: string } = {}): Error {
  return Object.assign(new Error(message), fields)
}

class Connection {
  readonly socket: Socket
  /** Whoever reads from the socket now: a response's head, a body, or the pool (which expects nothing). */
  handler: ReadHandler
  reused = false
  /** The socket may carry another request after this answer. */
  keepAlive = true

  constructor (readonly url: URL, private readonly pool: SocketReads) {
    this.handler = this.unexpected
    this.socket = connect({
      ...address(url),
      noDelay: true,
      onread: { buffer: takeBuffer, callback: (length, buffer) => this.handler(length, buffer as Buffer) }
    })
    this.socket.on('error', ignoreError) // reported through 'close' to whoever holds the socket
    this.socket.once('close', () => { pool.forget(this) })
    // Armed only while the socket waits in the pool.
    this.socket.on('timeout', () => { this.socket.destroy() })
  }

  /** Bytes while no request is out: S3 never sends any; the socket is not trusted again. */
  readonly unexpected: ReadHandler = (_length, buffer) => {
    giveBuffer(buffer)
    this.socket.destroy()
    return false
  }

  release (): void {
    this.handler = this.unexpected
    if (this.keepAlive && !this.socket.destroyed) this.pool.keep(this)
    else this.socket.destroy()
  }
}

/** Where an http: URL's socket connects (exported for its unit test). */
export function address (url: URL): { host: string, port: number } {
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port === '' ? 80 : Number(url.port) }
}

export class SocketReads {
  readonly #options: SocketReadsOptions
  readonly #free: Connection[] = []

  constructor (options: SocketReadsOptions) {
    this.#options = options
  }

  /**
   * GETs a key with the given request headers: the status and body of a 200
   * or 206 with a Content-Length, or undefined for any other answer (to be
   * asked again through the SDK). Rejects when no answer came.
   */
  async get (key: string, headers: string, signal: ReadSignal): Promise<SocketAnswer | undefined> {
    signal.throwIfAborted()
    const url = new URL(await this.#options.sign(key))
    const request = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: replay-gate\r\n${headers}\r\n`
    const started = performance.now()
    const reused = this.#takeFree(url.host)
    try {
      const answer = await this.#exchange(reused ?? await this.#open(url, signal), request, signal)
      // Any other answer is timed when the SDK asks again.
      if (answer !== undefined) this.#options.onAnswer?.('ok', (performance.now() - started) / 1000)
      return answer
    } catch (error) {
      // A kept socket that S3 had closed meanwhile: asked once more on a new one.
      if (reused !== undefined && (error as { retry?: boolean }).retry === true && !signal.aborted) return await this.get(key, headers, signal)
      this.#options.onAnswer?.('error', (performance.now() - started) / 1000)
      throw error
    }
  }

  #takeFree (host: string): Connection | undefined {
    const connection = this.#free.pop()
    if (connection === undefined || connection.url.host === host) return connection
    connection.socket.destroy()
    return undefined
  }

  /** Closes the free sockets; those in use close when their download ends. */
  close (): void {
    for (const connection of this.#free.splice(0)) connection.socket.destroy()
  }

  keep (connection: Connection): void {
    if (this.#free.length >= (this.#options.maxFreeSockets ?? 64)) {
      connection.socket.destroy()
      return
    }
    connection.reused = true
    connection.socket.setTimeout(this.#options.idleMs ?? 4000)
    connection.socket.unref()
    connection.socket.resume() // so that S3 closing it is seen while it waits
    this.#free.push(connection)
  }

  forget (connection: Connection): void {
    const at = this.#free.indexOf(connection)
    if (at !== -1) this.#free.splice(at, 1)
  }

  async #open (url: URL, signal: ReadSignal): Promise<Connection> {
    const connection = new Connection(url, this)
    const { socket } = connection
    return await new Promise((resolve, reject) => {
      const fail = (error: Error): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', aborted)
        socket.destroy()
        reject(error)
      }
      const aborted = (): void => { fail(noAnswer('the request was aborted', { name: 'AbortError' })) }
      const timer = setTimeout(() => { fail(noAnswer(`no connection within ${this.#options.connectTimeoutMs} ms`, { name: 'TimeoutError' })) }, this.#options.connectTimeoutMs)
      socket.once('error', (error: Error & { code?: string }) => { fail(noAnswer(error.message, { code: error.code })) })
      signal.addEventListener('abort', aborted, { once: true })
      socket.once('connect', () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', aborted)
        socket.removeAllListeners('error')
        socket.on('error', ignoreError)
        resolve(connection)
      })
    })
  }

  /** Sends the request and reads the answer's head. */
  async #exchange (connection: Connection, request: string, signal: ReadSignal): Promise<SocketAnswer | undefined> {
    const { socket } = connection
    socket.setTimeout(0)
    socket.ref()
    return await new Promise((resolve, reject) => {
      /** The start of a head that did not come whole in one read. */
      let head: Buffer | undefined
      const settle = (): void => {
        signal.removeEventListener('abort', aborted)
        socket.off('close', closed)
      }
      const closed = (): void => {
        settle()
        // Nothing came back: on a kept socket, S3 closed it before reading the request.
        reject(Object.assign(noAnswer('S3 closed the connection before answering', { code: 'ECONNRESET' }), { retry: head === undefined && connection.reused }))
      }
      const aborted = (): void => {
        settle()
        socket.destroy()
        reject(noAnswer('the request was aborted', { name: 'AbortError' }))
      }
      connection.handler = (length, buffer) => {
        // A head mostly comes whole in the first read: read where it lies, and
        // the body's first bytes after it are passed on from the same buffer.
        const pooled = head === undefined ? buffer : undefined
        const bytes = head === undefined ? buffer.subarray(0, length) : Buffer.concat([head, buffer.subarray(0, length)])
        if (pooled === undefined) giveBuffer(buffer)
        const end = bytes.indexOf('\r\n\r\n')
        if (end === -1) {
          head = Buffer.from(bytes)
          release(pooled)
          if (head.length <= MAX_HEAD_BYTES) return true
          settle()
          socket.destroy()
          reject(noAnswer('S3 answered with an oversized head', { code: 'EPROTO' }))
          return false
        }
        settle()
        const parsed = parseHead(bytes.subarray(0, end).toString('latin1'))
        if (parsed === undefined) {
          // Not passed on from here: the SDK asks again and reads the answer.
          release(pooled)
          socket.destroy()
          resolve(undefined)
          return false
        }
        connection.keepAlive = parsed.keepAlive
        resolve({ meta: parsed.meta, body: new ObjectBody(connection, parsed.length, bytes.subarray(end + 4), pooled) })
        return false // paused until the body is piped or read
      }
      socket.once('close', closed)
      signal.addEventListener('abort', aborted, { once: true })
      socket.resume()
      socket.write(request)
    })
  }
}

interface ParsedHead {
  meta: ObjectMeta
  length: number
  keepAlive: boolean
}

/** A 200 or 206 head with one Content-Length and no other framing (exported for its unit test); undefined for any other. */
export function parseHead (text: string): ParsedHead | undefined {
  const lines = text.split('\r\n')
  const status = /^HTTP\/1\.([01]) (20[06]) /.exec(`${lines[0] as string} `)
  if (status === null) return undefined
  const headers = new Map<string, string>()
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0) return undefined
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    // A repeated framing header is ambiguous: not read here.
    if (headers.has(name) && (name === 'content-length' || name === 'transfer-encoding')) return undefined
    headers.set(name, value)
  }
  const length = headers.get('content-length')
  if (length === undefined || !/^\d{1,15}$/.test(length) || headers.has('transfer-encoding')) return undefined
  const lastModified = headers.get('last-modified')
  const connection = (headers.get('connection') ?? '').toLowerCase()
  return {
    meta: {
      contentLength: Number(length),
      contentRange: headers.get('content-range'),
      contentType: headers.get('content-type'),
      etag: headers.get('etag'),
      lastModified: lastModified === undefined ? undefined : new Date(lastModified)
    },
    length: Number(length),
    keepAlive: status[1] === '1' ? connection !== 'close' : connection === 'keep-alive'
  }
}

/**
 * The body of S3's answer. Piped (as Fastify sends a stream), its chunks go
 * from the pooled buffers to the destination without a copy; read any other
 * way, each chunk is a copy of its own. `passed` counts the bytes handed on.
 */
export class ObjectBody extends Readable {
  passed = 0
  #remaining: number
  /** The body's bytes that came with the head, in `#firstBuffer` when that is a pooled buffer. */
  #first: Buffer
  #firstBuffer: Buffer | undefined
  #destination: Writable | undefined

  constructor (private readonly connection: Connection, length: number, first: Buffer, firstBuffer: Buffer | undefined) {
    super()
    this.#first = first.subarray(0, length)
    this.#firstBuffer = firstBuffer
    // More than the body in the first read: the socket is out of step with S3.
    if (first.length > length) connection.keepAlive = false
    this.#remaining = length - this.#first.length
    connection.socket.once('close', this.#brokenOff)
  }

  /** Whether every byte of the body was handed on. */
  get complete (): boolean {
    return this.#remaining === 0 && this.#first.length === 0
  }

  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    // The copy-free path is for one destination that is ended with the body, as Fastify pipes it.
    if (this.#destination !== undefined || this.readableFlowing !== null || options?.end === false) return super.pipe(destination, options)
    const writable = destination as unknown as Writable
    this.#destination = writable
    this.pause() // flowing stays off: a later 'data' listener must not start _read
    writable.on('drain', this.#drained)
    const [first, buffer] = this.#takeFirst()
    if (first.length > 0) writable.write(first, () => { release(buffer) })
    else release(buffer)
    if (this.#remaining === 0) this.#finish()
    else {
      this.connection.handler = this.#toDestination
      this.connection.socket.resume()
    }
    return destination
  }

  override _read (): void {
    const [first, buffer] = this.#takeFirst()
    const copy = first.length > 0 ? Buffer.from(first) : undefined
    release(buffer)
    if (copy !== undefined && !this.push(copy)) return
    if (this.#remaining === 0) {
      this.#finish()
      return
    }
    this.connection.handler = this.#copied
    this.connection.socket.resume()
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    this.connection.socket.off('close', this.#brokenOff)
    this.#destination?.off('drain', this.#drained)
    const complete = this.complete
    // Never handed on: nothing else holds it.
    release(this.#firstBuffer)
    this.#firstBuffer = undefined
    // A body left unread cannot be skipped on the socket: it closes.
    if (!complete) this.connection.socket.destroy()
    callback(error)
  }

  /** The first bytes, once, with the pooled buffer that holds them (to be given back once they are written). */
  #takeFirst (): [Buffer, Buffer | undefined] {
    const taken: [Buffer, Buffer | undefined] = [this.#first, this.#firstBuffer]
    this.passed += this.#first.length
    this.#first = EMPTY
    this.#firstBuffer = undefined
    return taken
  }

  /** How much of a read belongs to the body; bytes beyond it mean the socket is not reused. */
  #bodyPart (length: number): number {
    if (length <= this.#remaining) return length
    this.connection.keepAlive = false
    return this.#remaining
  }

  readonly #toDestination: ReadHandler = (length, buffer) => {
    const destination = this.#destination as Writable
    const part = this.#bodyPart(length)
    this.#remaining -= part
    this.passed += part
    const more = destination.write(buffer.subarray(0, part), () => { giveBuffer(buffer) })
    if (this.#remaining === 0) {
      this.#finish()
      return false
    }
    // A response corks its socket until the next tick, so its write() answers
    // false for every chunk above the socket's high-water mark (16 KiB), even
    // when that chunk is all that waits and goes to the kernel a tick later.
    // Read on then: stopping and restarting S3's socket at each chunk cost the
    // bench's 16 downloads at once a tenth of their CPU. With more waiting than
    // this chunk, the client is behind: read on after 'drain'. At most two
    // chunks wait in the service for one client.
    return more || destination.writableLength <= part
  }

  readonly #copied: ReadHandler = (length, buffer) => {
    const part = this.#bodyPart(length)
    this.#remaining -= part
    this.passed += part
    const more = this.push(Buffer.from(buffer.subarray(0, part)))
    giveBuffer(buffer)
    if (this.#remaining === 0) {
      this.#finish()
      return false
    }
    return more
  }

  readonly #drained = (): void => {
    if (this.#remaining > 0 && !this.destroyed) this.connection.socket.resume()
  }

  /** Every byte was read from S3: the socket is free again, the body ends. */
  #finish (): void {
    this.connection.socket.off('close', this.#brokenOff)
    this.#destination?.off('drain', this.#drained)
    this.connection.release()
    this.#destination?.end()
    this.push(null)
    // Not flowing when piped here: a read of nothing lets 'end' be emitted.
    if (this.#destination !== undefined) this.read(0)
  }

  /** S3's socket closed before the last byte: the download must not look complete. */
  readonly #brokenOff = (): void => {
    this.destroy(Object.assign(new Error(`S3 closed the connection with ${this.#remaining} bytes of the body unread`), { code: 'ECONNRESET' }))
  }
}
