import { Type } from 'typebox'

const errorProperties = {
  statusCode: Type.Integer({ description: 'The HTTP status, repeated' }),
  code: Type.String({ description: 'A stable upper-case code, e.g. GAME_NOT_FOUND' }),
  error: Type.String({ description: 'The HTTP reason phrase' }),
  message: Type.String({ description: 'What went wrong, for a person' })
}

export const ErrorBody = Type.Object(errorProperties, { title: 'Error' })

/** The contract's error body, described for one status of one route (the description shows in /openapi.json). */
export function errorResponse (description: string): typeof ErrorBody {
  return Type.Object(errorProperties, { title: 'Error', description })
}

export const GameIdParams = Type.Object({
  gameId: Type.String({
    pattern: '^[1-9][0-9]*$',
    description: 'A decimal game id from 1 to 9007199254740991'
  })
})

/** Answers every replay route may give besides its own. */
export const protectionResponses = {
  401: errorResponse('AUTHENTICATION_REQUIRED or INVALID_TOKEN, only when the service requires bearer tokens (WWW-Authenticate says which)')
}
