// Every error code of the HTTP contract, in one table (error-codes.json):
// its status, the message the client reads, and when it is sent (which the
// OpenAPI document shows). Errors are classes with a stable `code`, so callers
// and tests branch on the code, never on a message; anything thrown that is
// not in the table reaches the client as INTERNAL_ERROR. The last four codes
// are answered on the socket (socket-answers.ts); FST_ERR_BAD_URL keeps
// Fastify's own name, as clients have seen it.
import createError, { type FastifyErrorConstructor } from '@fastify/error'
import type { DatabaseFailure, DatabaseFailureKind } from '../db/database-errors.js'
import codes from './error-codes.json' with { type: 'json' }

interface ErrorSpec {
  status: number
  /** For the client; `%s` takes the error's arguments in order. */
  message: string
  /** When it is sent, for the OpenAPI document. */
  when: string
}

export const CONTRACT_ERRORS = codes

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
export const ProfileInProgress = define<'PROFILE_IN_PROGRESS', [string]>('PROFILE_IN_PROGRESS')
export const PreconditionFailed = define('PRECONDITION_FAILED')
export const RangeNotSatisfiable = define('RANGE_NOT_SATISFIABLE')
export const RateLimited = define<'RATE_LIMITED', [string]>('RATE_LIMITED')
export const TooManyStreams = define<'TOO_MANY_STREAMS', [string]>('TOO_MANY_STREAMS')
export const InvalidReplayKey = define<'INVALID_REPLAY_KEY', [string]>('INVALID_REPLAY_KEY')
export const StorageUnavailable = define('STORAGE_UNAVAILABLE')
const DatabaseUnavailableError = define<'DATABASE_UNAVAILABLE', [string]>('DATABASE_UNAVAILABLE')

/** What the client reads of each kind of database failure: what happened, never the server's own words. */
const DATABASE_FAILURES: Record<DatabaseFailureKind, string> = {
  timeout: 'did not answer in time; try again shortly',
  unreachable: 'could not be reached; try again shortly',
  misconfigured: 'refuses this service\'s queries (its setup is wrong: see the service\'s log); try again later'
}

/** DATABASE_UNAVAILABLE saying what happened; the failure, with the error, goes to the log as its cause. */
export function databaseUnavailable (failure: DatabaseFailure): Error & { code: 'DATABASE_UNAVAILABLE', statusCode: number } {
  return Object.assign(new DatabaseUnavailableError(DATABASE_FAILURES[failure.kind]), { cause: failure })
}
export const ServiceOverloaded = define('SERVICE_OVERLOADED')
export const AuthUnavailable = define('AUTH_UNAVAILABLE')
export const ShuttingDown = define('SHUTTING_DOWN')
export const StorageTimeout = define('STORAGE_TIMEOUT')
export const StorageCredentialsMissing = define('STORAGE_CREDENTIALS_MISSING')

/** STORAGE_CREDENTIALS_MISSING, the credential chain's own error as its cause (for the log). */
export function credentialsMissing (cause: unknown): Error & { code: 'STORAGE_CREDENTIALS_MISSING', statusCode: number } {
  return Object.assign(new StorageCredentialsMissing(), { cause })
}

/** Ours, with a message written for the client; anything else may leak internals. */
export function isContractError (error: { code?: unknown, statusCode?: unknown }): boolean {
  const entry = (CONTRACT_ERRORS as Record<string, ErrorSpec | undefined>)[error.code as string]
  return entry !== undefined && entry.status === error.statusCode
}

/** The route schema's description of a status: the codes it may carry and when. */
export function describeCodes (codes: ErrorCode[]): string {
  return codes.map((code) => `${code}: ${CONTRACT_ERRORS[code].when}`).join('; ')
}
