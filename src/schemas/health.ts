import { Type } from 'typebox'

const Check = Type.Object({
  ok: Type.Boolean(),
  ms: Type.Number({ description: 'How long the check took' }),
  status: Type.Optional(Type.Integer({ description: 'The HTTP status the storage answered with' })),
  error: Type.Optional(Type.String())
})

export const ReadinessBody = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  checks: Type.Object({ database: Check, storage: Check })
})

export const LivenessBody = Type.Object({ status: Type.Literal('ok') })
