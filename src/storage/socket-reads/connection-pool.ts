// Keep-alive sockets to S3 (plain TCP, or TLS for an https: endpoint), read
// into pooled buffers, and the exchange of one GET on one of them: the
// request written, the answer's head read, its body handed to an ObjectBody.
import { connect, isIP, type Socket } from 'node:net'
import { connect as connectTls, type ConnectionOptions } from 'node:tls'
import type { ReadSignal } from '../cancellation.js'
import type { ObjectMeta } from '../../model/object-meta.js'
import { giveBuffer, release, takeBuffer } from './buffer-pool.js'
import { MAX_HEAD_BYTES, parseHead } from './head-parser.js'
import { ObjectBody, type BodyConnection, type ReadHandler } from './object-body.js'

/** What S3 answered before any byte of the body, and the body to pass on. */
export interface SocketAnswer {
  status: 200 | 206
  meta: ObjectMeta
  body: ObjectBody
}

export interface SocketReadsOptions {
  connectTimeoutMs: number
  /** The URL to GET for a key, signed now: an http: or https: URL. */
  sign: (key: string) => Promise<string>
  /** Free sockets kept open to S3 (default 64), each for at most idleMs (default 4 s, shorter than S3's own idle timeouts). */
  maxFreeSockets?: number
  idleMs?: number
  /** For an https: endpoint, options of its TLS sockets (a private CA); Node's trusted CAs (and NODE_EXTRA_CA_CERTS) otherwise. */
  tls?: Pick<ConnectionOptions, 'ca'>
  /** Told of each request answered with a body read here (ok) or not answered (error), with the seconds until the headers were read. */
  onAnswer?: ((outcome: 'ok' | 'error', seconds: number) => void) | undefined
}

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

export class Connection implements BodyConnection {
  readonly socket: Socket
  /** Whoever reads from the socket now: a response's head, a body, or the pool (which expects nothing). */
  handler: ReadHandler
  reused = false
  /** The socket may carry another request after this answer. */
  keepAlive = true

  constructor (readonly url: URL, private readonly pool: SocketReads, tls: SocketReadsOptions['tls']) {
    this.handler = this.unexpected
    const options = {
      ...address(url),
      noDelay: true,
      onread: { buffer: takeBuffer, callback: (length: number, buffer: Uint8Array) => this.handler(length, buffer as Buffer) }
    }
    // Over TLS, the decrypted bytes are read into the pooled buffers the same way.
    this.socket = url.protocol === 'https:' ? connectTls({ ...tls, ...options, servername: isIP(options.host) === 0 ? options.host : undefined }) : connect(options)
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

/** Where an http: or https: URL's socket connects (exported for its unit test). */
export function address (url: URL): { host: string, port: number } {
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80 }
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
    const connection = new Connection(url, this, this.#options.tls)
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
      socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
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
        resolve({ status: parsed.status, meta: parsed.meta, body: new ObjectBody(connection, parsed.length, bytes.subarray(end + 4), pooled) })
        return false // paused until the body is piped or read
      }
      socket.once('close', closed)
      signal.addEventListener('abort', aborted, { once: true })
      socket.resume()
      socket.write(request)
    })
  }
}
