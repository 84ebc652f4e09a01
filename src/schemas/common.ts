import { Type } from 'typebox'
import { describeCodes, type ErrorCode } from '../http/errors.js'
import { GAME_ID_PATTERN } from '../replay/game-id.js'

const errorProperties = {
  statusCode: Type.Integer({ description: 'The HTTP status, repeated' }),
  code: Type.String({ description: 'A stable upper-case code, e.g. GAME_NOT_FOUND' }),
  error: Type.String({ description: 'The HTTP reason phrase' }),
  message: Type.String({ description: 'What went wrong, for a person' })
}

export const ErrorBody = Type.Object(errorProperties, { title: 'Error' })

/** The contract's error body for one status of one route, described by the codes it may carry (shown in /openapi.json). */
export function errorResponse (...codes: ErrorCode[]): typeof ErrorBody {
  return Type.Object(errorProperties, { title: 'Error', description: describeCodes(codes) })
}

export const GameIdParams = Type.Object({
  gameId: Type.String({
    pattern: GAME_ID_PATTERN,
    description: 'A decimal game id from 1 to 9007199254740991, without sign or leading zeros'
  })
})

/** Answers every replay route may give besides its own. */
export const replayRouteErrors = {
  400: errorResponse('INVALID_GAME_ID', 'INVALID_AUTHORIZATION_HEADER'),
  401: errorResponse('AUTHENTICATION_REQUIRED', 'INVALID_TOKEN'),
  500: errorResponse('INVALID_REPLAY_KEY', 'INTERNAL_ERROR')
}
