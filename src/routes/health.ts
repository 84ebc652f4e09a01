// /healthz: the process answers. /readyz: this instance can serve. It is 503
// only for what is wrong with this instance or its configuration (the database
// or S3 refuses it: wrong password or keys, a missing table or bucket). When a
// shared dependency is out (refused, timed out, failing), every instance would
// fail alike and cached games are still served: 200 "degraded", so a balancer
// does not drop them all. Neither route is shed under load: an overloaded
// instance is alive and its backends work; it turns requests away itself.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import fp from 'fastify-plugin'
import { classifyDatabaseError } from '../db/database-errors.js'
import type { GamesRepository } from '../db/games.js'
import { NEVER_SHED } from '../plugins/load-shedding.js'
import { checkOption, hasMethod } from '../plugins/options.js'
import { PROBE } from '../plugins/request-log.js'
import { LivenessBody, ReadinessBody, UnreadyBody } from '../schemas/health.js'
import type { ReplayStorage } from '../storage/replay-storage.js'

/** Answered while the rest is shed; its request line is logged at debug. */
const PROBE_ROUTE = { ...NEVER_SHED, ...PROBE }

export interface HealthRouteOptions {
  games: GamesRepository
  storage: ReplayStorage
  /** Each check gives up after this long, so a probe never hangs. */
  checkTimeoutMs: number
}

const NAME = 'replay-gate-health-routes'

/** How long a readiness result is answered again: a flood of probes makes one check a second. */
const READINESS_CACHE_MS = 1000

type CheckState = 'ok' | 'unreachable' | 'misconfigured'
interface Check { state: CheckState, ms: number }
interface Readiness { status: 'ready' | 'degraded' | 'unavailable', checks: { database: Check, storage: Check } }

const healthRoutes: FastifyPluginAsyncTypebox<HealthRouteOptions> = async function healthRoutes (fastify, { games, storage, checkTimeoutMs }) {
  checkOption(NAME, 'games', hasMethod(games, 'probe'), 'a GamesRepository')
  checkOption(NAME, 'storage', hasMethod(storage, 'probe'), 'a ReplayStorage')
  fastify.get('/healthz', { schema: { response: { 200: LivenessBody }, security: [] }, config: PROBE_ROUTE }, async function liveness () {
    return { status: 'ok' as const }
  })

  // What each check said last: a change is logged once, with its reason; the body never has it.
  const said: Record<'database' | 'storage', string> = { database: 'ok', storage: 'ok' }
  function report (name: 'database' | 'storage', state: CheckState, detail?: string): void {
    const now = state === 'ok' ? 'ok' : `${state}: ${String(detail)}`
    if (now === said[name]) return
    said[name] = now
    if (state === 'ok') fastify.log.info({ check: name }, `readiness: the ${name} answers again`)
    else fastify.log.warn({ check: name, state, reason: detail }, `readiness: the ${name} is ${state}`)
  }

  async function checkReadiness (): Promise<Readiness> {
    const [database, s3] = await Promise.all([
      timed(async () => {
        const found = await checkDatabase(games, checkTimeoutMs)
        report('database', found.state, found.detail)
        return found.state
      }),
      timed(async () => {
        const found = await storage.probe(checkTimeoutMs)
        report('storage', found.state, found.state === 'ok' ? undefined : found.detail)
        return found.state
      })
    ])
    const states = [database.state, s3.state]
    const status = states.includes('misconfigured') ? 'unavailable' : states.includes('unreachable') ? 'degraded' : 'ready'
    return { status, checks: { database, storage: s3 } }
  }

  let last: { at: number, result: Promise<Readiness> } | undefined
  fastify.get('/readyz', { schema: { response: { 200: ReadinessBody, 503: UnreadyBody }, security: [] }, config: PROBE_ROUTE }, async function readiness (_request, reply) {
    reply.header('Cache-Control', 'no-store')
    // Never from the kept result: the balancer must see the drain at once.
    if (fastify.draining) {
      const drained = { state: 'ok' as const, ms: 0 }
      return await reply.code(503).send({ status: 'draining', checks: { database: drained, storage: drained } })
    }
    if (last === undefined || performance.now() - last.at >= READINESS_CACHE_MS) last = { at: performance.now(), result: checkReadiness() }
    const result = await last.result
    return await reply.code(result.status === 'unavailable' ? 503 : 200).send(result)
  })
}

/** The table the service reads, asked as the lookups ask it: a missing table or missing rights show here. */
async function checkDatabase (games: GamesRepository, timeoutMs: number): Promise<{ state: CheckState, detail?: string }> {
  return await games.probe(timeoutMs).then(
    () => ({ state: 'ok' as const }),
    (error: unknown) => {
      const { kind, detail } = classifyDatabaseError(error)
      return { state: kind === 'misconfigured' ? 'misconfigured' as const : 'unreachable' as const, detail }
    }
  )
}

async function timed (check: () => Promise<CheckState>): Promise<Check> {
  const started = performance.now()
  const state = await check()
  return { state, ms: Math.round((performance.now() - started) * 10) / 10 }
}

export default fp(healthRoutes, { name: NAME, encapsulate: true })
