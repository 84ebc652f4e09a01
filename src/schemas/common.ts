import { Type } from 'typebox'

export const ErrorBody = Type.Object({
  statusCode: Type.Integer({ description: 'The HTTP status, repeated' }),
  code: Type.String({ description: 'A stable upper-case code, e.g. GAME_NOT_FOUND' }),
  error: Type.String({ description: 'The HTTP reason phrase' }),
  message: Type.String({ description: 'What went wrong, for a person' })
}, { $id: 'ErrorBody', title: 'Error' })

export const GameIdParams = Type.Object({
  gameId: Type.String({
    pattern: '^[1-9][0-9]*$',
    description: 'A decimal game id from 1 to 9007199254740991'
  })
})
