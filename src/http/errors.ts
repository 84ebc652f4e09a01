// Every error code of the HTTP contract, in one table: its status, the
// message the client reads, and when it is sent (which the OpenAPI document
// shows). Errors are classes with a stable `code`, so callers and tests branch
// on the code, never on a message; anything thrown that is not in this table
// reaches the client as INTERNAL_ERROR.
import createError, { type FastifyErrorConstructor } from '@fastify/error'

interface ErrorSpec {
  status: number
  /** For the client; `%s` takes the error's arguments in order. */
  message: string
  /** When it is sent, for the OpenAPI document. */
  when: string
}

const spec = <const T extends Record<string, ErrorSpec>>(table: T): T => table

export const CONTRACT_ERRORS = spec({
  INVALID_GAME_ID: {
    status: 400,
    message: 'A game id is a decimal number from 1 to 9007199254740991, without sign, leading zeros or spaces',
    when: 'the id is not a decimal from 1 to 9007199254740991'
  },
  INVALID_REQUEST: { status: 400, message: 'The request is not valid: %s', when: 'a part of the request other than the id breaks its schema' },
  // Fastify's own name for it, kept as clients have seen it.
  FST_ERR_BAD_URL: { status: 400, message: 'The request URL is not valid', when: 'the path has a malformed percent-encoding outside a game id' },
  INVALID_AUTHORIZATION_HEADER: { status: 400, message: 'The Authorization header is not a well-formed bearer token', when: 'the Authorization header is malformed' },
  AUTHENTICATION_REQUIRED: {
    status: 401,
    message: 'This route needs a bearer token (Authorization: Bearer <token>)',
    when: 'no bearer token, when the service requires one (WWW-Authenticate)'
  },
  INVALID_TOKEN: { status: 401, message: 'The bearer token was refused: %s', when: 'the token does not verify (WWW-Authenticate says why)' },
  GAME_NOT_FOUND: { status: 404, message: 'There is no game %s', when: 'no such game' },
  REPLAY_NOT_AVAILABLE: { status: 404, message: 'Game %s has no replay recorded yet', when: 'the game has no replay yet' },
  REPLAY_OBJECT_MISSING: { status: 404, message: 'The replay of game %s is missing from storage', when: 'S3 does not have the object' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No route %s %s', when: 'no such route' },
  PRECONDITION_FAILED: { status: 412, message: 'The replay does not match the request\'s conditions', when: 'If-Match or If-Unmodified-Since failed' },
  RANGE_NOT_SATISFIABLE: {
    status: 416,
    message: 'The requested range is outside the replay',
    when: 'the range starts past the end (Content-Range: bytes */size)'
  },
  RATE_LIMITED: {
    status: 429,
    message: 'Too many downloads through the service from this client; try again in %s, or follow the redirect instead',
    when: 'this client has used up its downloads through the service for now (Retry-After)'
  },
  INVALID_REPLAY_KEY: {
    status: 500,
    message: 'The replay of game %s is stored under an unsafe name; it will not be served',
    when: 'the stored folder or file would make an unsafe key'
  },
  INTERNAL_ERROR: { status: 500, message: 'Something went wrong on our side', when: 'an unexpected failure (logged)' },
  STORAGE_UNAVAILABLE: {
    status: 502,
    message: 'The replay storage did not answer properly; try again shortly',
    when: 'S3 refused the connection or answered with an error (Retry-After)'
  },
  DATABASE_UNAVAILABLE: {
    status: 503,
    message: 'The game database did not answer in time; try again shortly',
    when: 'the database did not answer in time (Retry-After)'
  },
  SERVICE_OVERLOADED: { status: 503, message: 'The service is overloaded; try again shortly', when: 'load shedding (Retry-After)' },
  AUTH_UNAVAILABLE: {
    status: 503,
    message: 'The keys that verify tokens could not be fetched; try again shortly',
    when: 'the token keys could not be fetched (Retry-After)'
  },
  STORAGE_TIMEOUT: {
    status: 504,
    message: 'The replay storage did not answer in time; try again shortly',
    when: 'S3 did not connect or send its first byte in time (Retry-After)'
  },
  // Answered on the socket, before any route: Node's parser refused the request, or it is a CONNECT.
  MALFORMED_REQUEST: { status: 400, message: 'The request is not well-formed HTTP', when: 'Node\'s parser refused the request' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'CONNECT is not supported: this is not a proxy', when: 'a CONNECT request' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time', when: 'the request did not arrive in time' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request line and headers are too large', when: 'the request line and headers are too large' }
})

export type ErrorCode = keyof typeof CONTRACT_ERRORS

function define<C extends ErrorCode, A extends unknown[] = []> (code: C): FastifyErrorConstructor<{ code: C, statusCode: number }, A> {
  const { status, message } = CONTRACT_ERRORS[code]
  return createError<C, number, A>(code, message, status)
}

export const InvalidGameId = define('INVALID_GAME_ID')
export const InvalidRequest = define<'INVALID_REQUEST', [string]>('INVALID_REQUEST')
export const InvalidUrl = define('FST_ERR_BAD_URL')
export const InvalidAuthorizationHeader = define('INVALID_AUTHORIZATION_HEADER')
export const AuthenticationRequired = define('AUTHENTICATION_REQUIRED')
export const InvalidToken = define<'INVALID_TOKEN', [string]>('INVALID_TOKEN')
export const GameNotFound = define<'GAME_NOT_FOUND', [string]>('GAME_NOT_FOUND')
export const ReplayNotAvailable = define<'REPLAY_NOT_AVAILABLE', [string]>('REPLAY_NOT_AVAILABLE')
export const ReplayObjectMissing = define<'REPLAY_OBJECT_MISSING', [string]>('REPLAY_OBJECT_MISSING')
export const RouteNotFound = define<'ROUTE_NOT_FOUND', [string, string]>('ROUTE_NOT_FOUND')
export const PreconditionFailed = define('PRECONDITION_FAILED')
export const RangeNotSatisfiable = define('RANGE_NOT_SATISFIABLE')
export const RateLimited = define<'RATE_LIMITED', [string]>('RATE_LIMITED')
export const InvalidReplayKey = define<'INVALID_REPLAY_KEY', [string]>('INVALID_REPLAY_KEY')
export const StorageUnavailable = define('STORAGE_UNAVAILABLE')
export const DatabaseUnavailable = define('DATABASE_UNAVAILABLE')
export const ServiceOverloaded = define('SERVICE_OVERLOADED')
export const AuthUnavailable = define('AUTH_UNAVAILABLE')
export const StorageTimeout = define('STORAGE_TIMEOUT')

/** Ours, with a message written for the client; anything else may leak internals. */
export function isContractError (error: { code?: unknown, statusCode?: unknown }): boolean {
  const entry = CONTRACT_ERRORS[error.code as ErrorCode] as ErrorSpec | undefined
  return entry !== undefined && entry.status === error.statusCode
}

/** The route schema's description of a status: the codes it may carry and when. */
export function describeCodes (codes: ErrorCode[]): string {
  return codes.map((code) => `${code}: ${CONTRACT_ERRORS[code].when}`).join('; ')
}
