// Requests that never reach a route: Node's parser refused them, or they are a
// CONNECT. They are answered on the socket with the contract's JSON, like
// every other error, and the connection is closed.
import type { FastifyInstance } from 'fastify'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { errorBody } from './error-replies.js'
import { CONTRACT_ERRORS, type ErrorCode } from './errors.js'

export function handleClientError (this: FastifyInstance, error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  this.log.debug({ err: error }, 'client error')
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') answerOnSocket(socket, 'REQUEST_TIMEOUT')
  else if (error.code === 'HPE_HEADER_OVERFLOW') answerOnSocket(socket, 'HEADERS_TOO_LARGE')
  else answerOnSocket(socket, 'MALFORMED_REQUEST')
}

/** CONNECT goes to its own event, not to the routes; unanswered, Node would just drop the connection. */
export function refuseConnect (_request: unknown, socket: Duplex): void {
  answerOnSocket(socket, 'METHOD_NOT_ALLOWED', 'Allow: GET, HEAD\r\n')
}

function answerOnSocket (socket: Duplex, code: ErrorCode, extraHeaders = ''): void {
  const { status, message } = CONTRACT_ERRORS[code]
  const body = JSON.stringify(errorBody(status, code, message))
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] as string}\r\nConnection: close\r\nCache-Control: no-store\r\n${extraHeaders}` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  }
  socket.destroy()
}
