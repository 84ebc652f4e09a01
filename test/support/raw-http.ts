// The tests' one raw HTTP/1.1 client: it sends exactly the bytes it is given
// (no URL normalisation, no header checks), so that requests no browser would
// send reach the server as they are.
import { connect, type Socket } from 'node:net'

export interface RawConnection {
  socket: Socket
  /** What came back so far, as latin1 text (empty when `collect` is off). */
  received: () => string
  /** Resolves with how long the connection lived, once it closes. */
  closed: Promise<number>
}

/**
 * A connection to write to by hand: a request in pieces, a pipelined one,
 * or a download read at a chosen pace (`collect: false` keeps nothing).
 */
export async function rawConnection (port: number | string, { collect = true }: { collect?: boolean } = {}): Promise<RawConnection> {
  const socket = connect(Number(port), '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  const opened = Date.now()
  let data = ''
  if (collect) socket.on('data', (chunk: Buffer) => { data += chunk.toString('latin1') })
  const closed = new Promise<number>((resolve) => socket.once('close', () => { resolve(Date.now() - opened) }))
  socket.on('error', () => {})
  return { socket, received: () => data, closed }
}

export interface RawRequest {
  method: string
  /** The request target, sent as it is. */
  target: string
  headers: Array<[string, string]>
  body?: string
}

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: Buffer
  /** The connection ended with an error (a reset) rather than a clean close. */
  error?: string
}

export function serialize ({ method, target, headers, body }: RawRequest): string {
  const lines = [`${method} ${target} HTTP/1.1`, ...headers.map(([name, value]) => `${name}: ${value}`), 'Connection: close']
  if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`)
  return `${lines.join('\r\n')}\r\n\r\n${body ?? ''}`
}

/** One request on a connection of its own (Connection: close), and the whole answer. */
export async function send (port: number, request: RawRequest, timeoutMs = 30_000): Promise<RawResponse> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let error: string | undefined
    socket.setTimeout(timeoutMs, () => { error = 'timeout'; socket.destroy() })
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', (e: NodeJS.ErrnoException) => { error = e.code ?? e.message })
    socket.on('close', () => { resolve(parse(Buffer.concat(chunks), error)) })
    // Not end(): a half-closed connection tells Node the client has gone, and its answer is dropped.
    socket.write(serialize(request))
  })
}

function parse (raw: Buffer, error: string | undefined): RawResponse {
  const end = raw.indexOf('\r\n\r\n')
  if (end < 0) return { status: 0, headers: {}, body: Buffer.alloc(0), error: error ?? 'no complete answer' }
  const [statusLine, ...headerLines] = raw.subarray(0, end).toString('latin1').split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine as string)?.[1] ?? 0)
  const body = raw.subarray(end + 4)
  return { status, headers, body: headers['transfer-encoding'] === 'chunked' ? dechunk(body) : body, error }
}

function dechunk (body: Buffer): Buffer {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at)
    const size = lineEnd < 0 ? 0 : parseInt(body.subarray(at, lineEnd).toString('latin1'), 16)
    if (!(size > 0)) return Buffer.concat(parts)
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
}
