// The buffers that S3's sockets are read into: 64 KiB each, taken for a
// read and given back once the client's socket has written their bytes, so
// that a download allocates nothing per chunk. Node's own HTTP clients
// allocate a fresh buffer for every read (and Node's http module a second
// for the parser's copy); at hundreds of MiB a second that memory outside
// the heap made V8 collect garbage many times a second.

/**
 * The most a socket read takes (libuv's own size), and the size of each
 * pooled buffer. Reads of 256 KiB made no difference beyond the noise in the
 * stream benchmark, and let the kernel's TCP buffers behind a slow client grow
 * larger.
 */
export const CHUNK_BYTES = 64 * 1024
/** Free buffers kept for reuse (8 MiB); beyond that, a returned buffer is left to the garbage collector. */
export const KEPT_BUFFERS = 128
const buffers: Buffer[] = []
export const EMPTY = Buffer.alloc(0)

/** A free buffer, or a new one outside V8's heap (allocUnsafeSlow: not a slice of Node's shared pool). */
export function takeBuffer (): Buffer {
  return buffers.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES)
}

/** Back to the pool once nothing reads it any more (a socket has written its bytes). */
export function giveBuffer (buffer: Buffer): void {
  if (buffers.length < KEPT_BUFFERS) buffers.push(buffer)
}

export function release (buffer: Buffer | undefined): void {
  if (buffer !== undefined) giveBuffer(buffer)
}

/** How many free buffers the pool holds (for tests). */
export function pooledBuffers (): number {
  return buffers.length
}
