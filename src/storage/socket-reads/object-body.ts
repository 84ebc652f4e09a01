// The body of S3's answer as a Readable: piped (as Fastify sends a stream),
// its chunks go from the pooled buffers to the client's socket without a
// copy, and S3's socket is read only as fast as the client takes them.
import type { Socket } from 'node:net'
import { Readable, type Writable } from 'node:stream'
import { EMPTY, giveBuffer, release } from './buffer-pool.js'

/** Whoever reads a socket's bytes as they arrive (into a pooled buffer): true to go on reading. */
export type ReadHandler = (length: number, buffer: Buffer) => boolean

/** The kept connection a body is read from (connection-pool.ts's Connection). */
export interface BodyConnection {
  readonly socket: Socket
  handler: ReadHandler
  /** The socket may carry another request after this answer. */
  keepAlive: boolean
  /** Hands the socket back to its pool, or closes it. */
  release: () => void
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

  constructor (private readonly connection: BodyConnection, length: number, first: Buffer, firstBuffer: Buffer | undefined) {
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
