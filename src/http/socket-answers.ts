// Requests that never reach a route: Node's parser refused them, or they are a
// CONNECT. They are answered on the socket with the contract's JSON, like
// every other error, and the connection is closed; as Node's own handler does,
// nothing is written where it would corrupt what the client is reading.
import type { FastifyInstance } from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { errorBody } from './error-replies.js'
import { CONTRACT_ERRORS, type ErrorCode } from './errors.js'

/** What Node keeps on a server socket: the answer being written, and the request being parsed. */
interface ServerSocket extends Duplex {
  _httpMessage?: ServerResponse | null
  parser?: { incoming?: IncomingMessage | null } | null
}

export function handleClientError (this: FastifyInstance, error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  // The code and message only: the error also carries the raw bytes read (rawPacket), headers such as
  // Authorization and Cookie included.
  this.log.debug({ code: error.code, reason: error.message }, 'client error')
  const { _httpMessage: inFlight, parser } = socket as ServerSocket
  // An answer has started on this connection (a download, with a bad request
  // pipelined behind it): a word from us would land inside its body.
  const answering = inFlight?.headersSent === true
  // The request timed out, but only its body was late: it has been answered already.
  const answered = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' && inFlight == null && parser?.incoming != null
  if (answering || answered) {
    socket.destroy()
    return
  }
  // The method of a request the parser refused is only in the bytes it read.
  const raw = (error as { rawPacket?: unknown }).rawPacket
  const head = Buffer.isBuffer(raw) && raw.subarray(0, 5).toString('latin1') === 'HEAD '
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') answerOnSocket(socket, 'REQUEST_TIMEOUT', { head })
  else if (error.code === 'HPE_HEADER_OVERFLOW') answerOnSocket(socket, 'HEADERS_TOO_LARGE', { head })
  else answerOnSocket(socket, 'MALFORMED_REQUEST', { head })
}

/** CONNECT goes to its own event, not to the routes; unanswered, Node would just drop the connection. */
export function refuseConnect (_request: unknown, socket: Duplex): void {
  answerOnSocket(socket, 'METHOD_NOT_ALLOWED', { extraHeaders: 'Allow: GET, HEAD\r\n' })
}

/** `head`: the refused request was a HEAD, whose answer has no body (its Content-Length still says how long it would be). */
function answerOnSocket (socket: Duplex, code: ErrorCode, { head = false, extraHeaders = '' }: { head?: boolean, extraHeaders?: string }): void {
  const { status, message } = CONTRACT_ERRORS[code]
  const body = JSON.stringify(errorBody(status, code, message))
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] as string}\r\nConnection: close\r\nCache-Control: no-store\r\n${extraHeaders}` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${head ? '' : body}`)
  }
  socket.destroy()
}
