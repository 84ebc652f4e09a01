import { Type } from 'typebox'

const Check = Type.Object({
  state: Type.Union([Type.Literal('ok'), Type.Literal('unreachable'), Type.Literal('misconfigured')], {
    description: 'ok; unreachable: refused, timed out or failing for everyone (a shared outage); misconfigured: it refuses this instance (wrong keys or password, missing bucket, database or table). The reason is in the log, never here.'
  }),
  ms: Type.Number({ description: 'How long the last check took' })
})

const readiness = {
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded'), Type.Literal('unavailable'), Type.Literal('draining')]),
  checks: Type.Object({ database: Check, storage: Check })
}

export const ReadinessBody = Type.Object(readiness, {
  description: 'Ready, or degraded: a shared dependency (the database or S3) is out for every instance alike, and this instance still serves (S3 out: redirects; the database out: its cached games)'
})
export const UnreadyBody = Type.Object(readiness, {
  description: 'Unavailable: the database or S3 refuses this instance (its configuration is wrong), or the database is out and no game is cached; or draining for shutdown'
})

export const LivenessBody = Type.Object({ status: Type.Literal('ok') }, { description: 'The process runs' })
