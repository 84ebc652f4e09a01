// How every error reaches the client: the contract's JSON body, from a route,
// from the router, or from the socket.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { IncomingMessage } from 'node:http'
import { STATUS_CODES } from 'node:http'
import { CONTRACT_ERRORS, InvalidGameId, InvalidRequest, InvalidUrl, isContractError, RouteNotFound, ServiceOverloaded } from './errors.js'

export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
}

/** The contract's error body, the same from a route and from the socket. */
export function errorBody (statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] as string, message }
}

export function sendError (reply: FastifyReply, { statusCode, code, message }: { statusCode: number, code: string, message: string }): void {
  // An outage of the database or of S3 is usually over within seconds (load shedding and rate limits set their own).
  if ((statusCode === 502 || statusCode === 503 || statusCode === 504) && !reply.hasHeader('Retry-After')) reply.header('Retry-After', '5')
  reply
    .code(statusCode)
    .header('Cache-Control', 'no-store')
    .type('application/json; charset=utf-8')
    .send(errorBody(statusCode, code, message))
}

/** What a failed schema means, by the part of the request that failed it: the routes' only params are game ids. */
function validationError (error: FastifyError): Error {
  if (error.validationContext === 'params') return new InvalidGameId()
  return new InvalidRequest(error.message)
}

/** Codes that say this instance's setup is wrong: every request fails alike until it is fixed and the process restarted. */
const ONCE: Record<string, string | undefined> = {
  STORAGE_CREDENTIALS_MISSING: 'no S3 credentials found: replay requests are answered 503 STORAGE_CREDENTIALS_MISSING until the service is restarted with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a role'
}

/** How often each such code was answered, per listening server (every route of one app shares it). */
const answered = new WeakMap<object, Map<string, number>>()

/** The first at error level, with what to do; the later ones at debug, counted. */
function logOnce (request: FastifyRequest, error: FastifyError, statusCode: number, text: string): void {
  const counts = answered.get(request.server.server) ?? new Map<string, number>()
  answered.set(request.server.server, counts)
  const occurrence = (counts.get(error.code) ?? 0) + 1
  counts.set(error.code, occurrence)
  // Its cause's name and message: the same for every request, and never a stack.
  const { name, message } = error.cause as Error
  const details = { code: error.code, statusCode, occurrence, reason: `${name}: ${message}` }
  if (occurrence === 1) request.log.error(details, text)
  else request.log.debug(details, `request failed: ${error.message}`)
}

export function handleError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (error.validation !== undefined) error = validationError(error) as FastifyError
  const status = error.statusCode ?? 500
  // A shed request is counted and logged where it is shed; a flood of error lines would add to the load.
  if (status >= 500 && !(error instanceof ServiceOverloaded)) {
    // One line: an outage of ours (a contract code) by its code and cause, without our own stack;
    // anything else in full, stack and all. A fault of the setup, the same for every request, once.
    const once = ONCE[error.code]
    if (once !== undefined) logOnce(request, error, status, once)
    else if (isContractError(error)) request.log.error({ code: error.code, statusCode: status, cause: error.cause }, `request failed: ${error.message}`)
    else request.log.error({ err: error, cause: error.cause }, 'request failed')
  }
  // A 5xx that is not one of ours says nothing of its cause to the client.
  if (status < 500 || isContractError(error)) {
    sendError(reply, { statusCode: status, code: error.code, message: error.message })
    return
  }
  sendError(reply, { statusCode: 500, code: 'INTERNAL_ERROR', message: CONTRACT_ERRORS.INTERNAL_ERROR.message })
}

const MALFORMED_ESCAPE = Symbol('replay-gate.malformedEscape')
type MarkedRequest = IncomingMessage & { [MALFORMED_ESCAPE]?: true }

/**
 * Fastify's `rewriteUrl`: in a path that does not decode, every `%` is
 * written as `%25`, so that the router still finds the route. A game id with
 * a broken escape then fails its schema like any other bad id; a path that
 * matches no route gets the URL's own 400 from the not-found handler.
 */
export function escapeMalformedPercents (this: unknown, raw: IncomingMessage): string {
  const url = raw.url as string
  if (!url.includes('%')) return url
  const query = url.indexOf('?')
  const path = query === -1 ? url : url.slice(0, query)
  try {
    decodeURIComponent(path)
    return url
  } catch {
    (raw as MarkedRequest)[MALFORMED_ESCAPE] = true
    return path.replaceAll('%', '%25') + url.slice(path.length)
  }
}

export function handleNotFound (request: FastifyRequest, reply: FastifyReply): void {
  if ((request.raw as MarkedRequest)[MALFORMED_ESCAPE] === true) {
    sendError(reply, new InvalidUrl())
    return
  }
  const path = request.url.split('?')[0] as string
  sendError(reply, new RouteNotFound(request.method, path.length > 200 ? `${path.slice(0, 200)}…` : path))
}
