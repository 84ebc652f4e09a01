// The error codes of the HTTP contract. Each is a class with a stable `code`
// and status, so callers and tests branch on the code, never on a message.
import createError from '@fastify/error'

export const InvalidGameId = createError<'INVALID_GAME_ID', 400, []>(
  'INVALID_GAME_ID',
  'A game id is a decimal number from 1 to 9007199254740991, without sign, leading zeros or spaces',
  400
)
export const GameNotFound = createError<'GAME_NOT_FOUND', 404, [string]>(
  'GAME_NOT_FOUND', 'There is no game %s', 404
)
export const ReplayNotAvailable = createError<'REPLAY_NOT_AVAILABLE', 404, [string]>(
  'REPLAY_NOT_AVAILABLE', 'Game %s has no replay recorded yet', 404
)
export const ReplayObjectMissing = createError<'REPLAY_OBJECT_MISSING', 404, [string]>(
  'REPLAY_OBJECT_MISSING', 'The replay of game %s is missing from storage', 404
)
export const InvalidReplayKey = createError<'INVALID_REPLAY_KEY', 500, [string]>(
  'INVALID_REPLAY_KEY', 'The replay of game %s is stored under an unsafe name; it will not be served', 500
)
export const PreconditionFailed = createError<'PRECONDITION_FAILED', 412, []>(
  'PRECONDITION_FAILED', 'The replay does not match the request\'s conditions', 412
)
export const RangeNotSatisfiable = createError<'RANGE_NOT_SATISFIABLE', 416, []>(
  'RANGE_NOT_SATISFIABLE', 'The requested range is outside the replay', 416
)
export const StorageUnavailable = createError<'STORAGE_UNAVAILABLE', 502, []>(
  'STORAGE_UNAVAILABLE', 'The replay storage did not answer properly; try again shortly', 502
)
export const StorageTimeout = createError<'STORAGE_TIMEOUT', 504, []>(
  'STORAGE_TIMEOUT', 'The replay storage did not answer in time; try again shortly', 504
)
export const DatabaseUnavailable = createError<'DATABASE_UNAVAILABLE', 503, []>(
  'DATABASE_UNAVAILABLE', 'The game database did not answer in time; try again shortly', 503
)
export const AuthenticationRequired = createError<'AUTHENTICATION_REQUIRED', 401, []>(
  'AUTHENTICATION_REQUIRED', 'This route needs a bearer token (Authorization: Bearer <token>)', 401
)
export const InvalidToken = createError<'INVALID_TOKEN', 401, [string]>(
  'INVALID_TOKEN', 'The bearer token was refused: %s', 401
)
export const InvalidAuthorizationHeader = createError<'INVALID_AUTHORIZATION_HEADER', 400, []>(
  'INVALID_AUTHORIZATION_HEADER', 'The Authorization header is not a well-formed bearer token', 400
)
export const AuthUnavailable = createError<'AUTH_UNAVAILABLE', 503, []>(
  'AUTH_UNAVAILABLE', 'The keys that verify tokens could not be fetched; try again shortly', 503
)
export const RateLimited = createError<'RATE_LIMITED', 429, [string]>(
  'RATE_LIMITED', 'Too many downloads through the service from this client; try again in %s, or follow the redirect instead', 429
)
export const ServiceOverloaded = createError<'SERVICE_OVERLOADED', 503, []>(
  'SERVICE_OVERLOADED', 'The service is overloaded; try again shortly', 503
)
export const RouteNotFound = createError<'ROUTE_NOT_FOUND', 404, [string, string]>(
  'ROUTE_NOT_FOUND', 'No route %s %s', 404
)

const contractErrors = [
  InvalidGameId, GameNotFound, ReplayNotAvailable, ReplayObjectMissing, InvalidReplayKey, PreconditionFailed, RangeNotSatisfiable,
  StorageUnavailable, StorageTimeout, DatabaseUnavailable, RouteNotFound, AuthenticationRequired, InvalidToken,
  InvalidAuthorizationHeader, AuthUnavailable, RateLimited, ServiceOverloaded
]

/** Ours, with a message written for the client; anything else may leak internals. */
export function isContractError (error: unknown): boolean {
  return contractErrors.some((ErrorClass) => error instanceof ErrorClass)
}
