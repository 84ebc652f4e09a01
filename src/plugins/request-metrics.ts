// Counts every answer by route pattern, method and status, with its time. The
// series of each route, method and status is looked up in nested maps: no
// label object and no string is made per request.
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import type { Metrics } from '../observability/metrics.js'
import type { HistogramSeries } from '../observability/prebound.js'
import { checkOption } from './options.js'

export interface RequestMetricsOptions {
  metrics: Metrics
}

const NAME = 'replay-gate-request-metrics'

async function requestMetrics (fastify: FastifyInstance, { metrics }: RequestMetricsOptions): Promise<void> {
  checkOption(NAME, 'metrics', metrics?.requests !== undefined, 'a Metrics')
  const byRoute = new Map<string, Map<string, Map<number, HistogramSeries>>>()
  function seriesOf (route: string, method: string, status: number): HistogramSeries {
    let byMethod = byRoute.get(route)
    if (byMethod === undefined) byRoute.set(route, byMethod = new Map())
    let byStatus = byMethod.get(method)
    if (byStatus === undefined) byMethod.set(method, byStatus = new Map())
    let series = byStatus.get(status)
    if (series === undefined) byStatus.set(status, series = metrics.requests.labels({ route, method, status }))
    return series
  }
  // Route patterns only, never raw URLs: the label's values stay bounded. (The method is one Node
  // knows, or the router answers 404 before any route: also bounded.)
  fastify.addHook('onResponse', function countRequest (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    seriesOf(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode).observe(reply.elapsedTime / 1000)
    done()
  })
}

export default fp(requestMetrics, { name: NAME, fastify: '5.x' })
