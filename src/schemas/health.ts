import { Type } from 'typebox'

const Check = Type.Object({
  ok: Type.Boolean(),
  ms: Type.Number({ description: 'How long the check took' }),
  status: Type.Optional(Type.Integer({ description: 'The HTTP status the storage answered with' })),
  error: Type.Optional(Type.String())
})

const readiness = {
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  checks: Type.Object({ database: Check, storage: Check })
}

export const ReadinessBody = Type.Object(readiness, { description: 'Ready: the database and S3 answered' })
export const UnreadyBody = Type.Object(readiness, { description: 'Not ready: the database or S3 did not answer in time (each check says which)' })

export const LivenessBody = Type.Object({ status: Type.Literal('ok') }, { description: 'The process runs' })
