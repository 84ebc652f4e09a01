// /healthz: the process answers. /readyz: this instance can serve. It is 503
// only for what is wrong with this instance or its configuration (the database
// or S3 refuses it: wrong password or keys, a missing table or bucket), and
// when it could serve nothing at all (the database is out and no game is
// cached). When a shared dependency is out (refused, timed out, failing) and
// this instance still serves its cached games, it is 200 "degraded", so that a
// balancer does not drop every instance alike. Neither route is shed under
// load: an overloaded instance is alive and its backends work; it turns
// requests away itself.
//
// The checks run beside the probes, never under them: a probe answers at once
// with what the checks found last, so that a dependency that hangs cannot make
// a balancer's probe time out (1 or 2 s) and pull every instance.
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
  /** Whether this instance holds games it can serve without the database (its lookup cache). */
  holdsGames: () => boolean
  /** Each check gives up after this long. */
  checkTimeoutMs: number
}

const NAME = 'replay-gate-health-routes'

/** A probe that finds a result older than this starts a check (and answers the result it has): a flood of probes makes one check a second. */
const STALE_AFTER_MS = 1000
/** The checks run this often without probes too, so that a change is logged and a probe's first answer is recent. */
const CHECK_INTERVAL_MS = 5000

type CheckState = 'ok' | 'unreachable' | 'misconfigured'
type Dependency = 'database' | 'storage'
interface Check { state: CheckState, ms: number }
interface Finding { state: CheckState, detail?: string }

/** One dependency's check: one run at a time, its last result kept. */
class Watch {
  last: Check & { at: number } = { state: 'ok', ms: 0, at: -Infinity }
  #running: Promise<void> | undefined
  constructor (private readonly check: () => Promise<Finding>, private readonly report: (found: Finding) => void) {}

  /** Starts a check unless one runs; resolves when it ends (it never rejects: a failure is a state). */
  async refresh (): Promise<void> {
    this.#running ??= this.run().finally(() => { this.#running = undefined })
    await this.#running
  }

  private async run (): Promise<void> {
    const started = performance.now()
    const found = await this.check()
    const now = performance.now()
    this.last = { state: found.state, ms: Math.round((now - started) * 10) / 10, at: now }
    this.report(found)
  }
}

const healthRoutes: FastifyPluginAsyncTypebox<HealthRouteOptions> = async function healthRoutes (fastify, { games, storage, holdsGames, checkTimeoutMs }) {
  checkOption(NAME, 'games', hasMethod(games, 'probe'), 'a GamesRepository')
  checkOption(NAME, 'storage', hasMethod(storage, 'probe'), 'a ReplayStorage')
  checkOption(NAME, 'holdsGames', typeof holdsGames === 'function', 'a function')
  fastify.get('/healthz', { schema: { response: { 200: LivenessBody }, security: [] }, config: PROBE_ROUTE }, async function liveness () {
    return { status: 'ok' as const }
  })

  // What each check said last: a change is logged once, with its reason; the body never has it.
  const said: Record<Dependency, string> = { database: 'ok', storage: 'ok' }
  let closing = false
  function reporter (name: Dependency) {
    return function report ({ state, detail }: Finding): void {
      // The pool and the S3 client close under a check that is still running: no outage to report.
      if (closing) return
      const now = state === 'ok' ? 'ok' : `${state}: ${String(detail)}`
      if (now === said[name]) return
      said[name] = now
      if (state === 'ok') fastify.log.info({ check: name }, `readiness: the ${name} answers again`)
      else fastify.log.warn({ check: name, state, reason: detail }, `readiness: the ${name} is ${state}`)
    }
  }
  const watches: Record<Dependency, Watch> = {
    database: new Watch(async () => await checkDatabase(games, checkTimeoutMs), reporter('database')),
    storage: new Watch(async () => await storage.probe(checkTimeoutMs), reporter('storage'))
  }
  const refreshAll = async (): Promise<void> => { await Promise.all([watches.database.refresh(), watches.storage.refresh()]) }

  let timer: NodeJS.Timeout | undefined
  // The first checks end (each within its timeout) before the service listens: its first probe has an answer.
  fastify.addHook('onReady', async function firstChecks () {
    await refreshAll()
    timer = setInterval(refreshAll, CHECK_INTERVAL_MS).unref()
  })
  fastify.addHook('preClose', async function stopChecks () {
    closing = true
    clearInterval(timer)
  })

  fastify.get('/readyz', { schema: { response: { 200: ReadinessBody, 503: UnreadyBody }, security: [] }, config: PROBE_ROUTE }, async function readiness (_request, reply) {
    reply.header('Cache-Control', 'no-store')
    // Never from the checks: the balancer must see the drain at once.
    if (fastify.draining) {
      const drained = { state: 'ok' as const, ms: 0 }
      return await reply.code(503).send({ status: 'draining', checks: { database: drained, storage: drained } })
    }
    const now = performance.now()
    for (const watch of [watches.database, watches.storage]) {
      // Not awaited: this answer is the last result; the next probe gets the new one.
      if (now - watch.last.at >= STALE_AFTER_MS) watch.refresh()
    }
    const database = { state: watches.database.last.state, ms: watches.database.last.ms }
    const s3 = { state: watches.storage.last.state, ms: watches.storage.last.ms }
    const status = statusOf(database.state, s3.state, holdsGames())
    return await reply.code(status === 'unavailable' ? 503 : 200).send({ status, checks: { database, storage: s3 } })
  })
}

/**
 * Misconfigured anywhere: unavailable. The database out: degraded while cached
 * games are served (the redirect needs no S3 request, so S3 out is degraded
 * anyway), unavailable with nothing cached (every lookup would be a 503).
 */
function statusOf (database: CheckState, storage: CheckState, holdsGames: boolean): 'ready' | 'degraded' | 'unavailable' {
  if (database === 'misconfigured' || storage === 'misconfigured') return 'unavailable'
  if (database === 'unreachable') return holdsGames ? 'degraded' : 'unavailable'
  return storage === 'unreachable' ? 'degraded' : 'ready'
}

/** The table the service reads, asked as the lookups ask it: a missing table or missing rights show here. */
async function checkDatabase (games: GamesRepository, timeoutMs: number): Promise<Finding> {
  return await games.probe(timeoutMs).then(
    () => ({ state: 'ok' as const }),
    (error: unknown) => {
      const { kind, detail } = classifyDatabaseError(error)
      return { state: kind === 'misconfigured' ? 'misconfigured' as const : 'unreachable' as const, detail }
    }
  )
}

export default fp(healthRoutes, { name: NAME, encapsulate: true })
