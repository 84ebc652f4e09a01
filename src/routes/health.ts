// /healthz: the process answers. /readyz: the database and S3 answer too.
// Neither is shed under load: an overloaded instance is alive and its backends
// work; it turns requests away itself, with quick 503s. Were it to report
// unready, an overload of the whole fleet would leave the balancer with nothing.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import fp from 'fastify-plugin'
import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { NEVER_SHED } from '../plugins/load-shedding.js'
import { PROBE } from '../plugins/request-log.js'
import { LivenessBody, ReadinessBody, UnreadyBody } from '../schemas/health.js'

/** Answered while the rest is shed; its request line is logged at debug. */
const PROBE_ROUTE = { ...NEVER_SHED, ...PROBE }

export interface HealthRouteOptions {
  /** Each check gives up after this long, so a probe never hangs. */
  checkTimeoutMs: number
}

const healthRoutes: FastifyPluginAsyncTypebox<HealthRouteOptions> = async function healthRoutes (fastify, { checkTimeoutMs }) {
  const { db, storage } = fastify
  fastify.get('/healthz', { schema: { response: { 200: LivenessBody }, security: [] }, config: PROBE_ROUTE }, async function liveness () {
    return { status: 'ok' as const }
  })

  fastify.get('/readyz', { schema: { response: { 200: ReadinessBody, 503: UnreadyBody }, security: [] }, config: PROBE_ROUTE }, async function readiness (request, reply) {
    const [database, s3] = await Promise.all([
      timed(() => checkDatabase(db, checkTimeoutMs)),
      timed(() => storage.probe(checkTimeoutMs))
    ])
    const ready = database.ok && s3.ok
    if (!ready) request.log.warn({ database, storage: s3 }, 'not ready')
    reply.header('Cache-Control', 'no-store').code(ready ? 200 : 503)
    return { status: ready ? 'ready' as const : 'unavailable' as const, checks: { database, storage: s3 } }
  })
}

async function checkDatabase (db: Kysely<Database>, timeoutMs: number): Promise<{ ok: boolean, error?: string }> {
  // Unref'd: a timer left running after a quick answer holds nothing open.
  const timeout = new Promise<never>((_resolve, reject) => {
    setTimeout(reject, timeoutMs, new Error('no answer in time')).unref()
  })
  return await Promise.race([sql`select 1`.execute(db), timeout]).then(
    () => ({ ok: true }),
    (error: Error) => ({ ok: false, error: error.message })
  )
}

async function timed<T extends object> (check: () => Promise<T>): Promise<T & { ms: number }> {
  const started = performance.now()
  const result = await check()
  return { ...result, ms: Math.round((performance.now() - started) * 10) / 10 }
}

export default fp(healthRoutes, { name: 'replay-gate-health-routes', dependencies: ['replay-gate-backends'], encapsulate: true })
