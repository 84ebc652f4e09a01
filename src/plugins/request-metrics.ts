// Counts every answer by route pattern, method and status, with its time.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Metrics } from '../observability/metrics.js'
import { checkOption } from './options.js'

export interface RequestMetricsOptions {
  metrics: Metrics
}

const NAME = 'replay-gate-request-metrics'

async function requestMetrics (fastify: FastifyInstance, { metrics }: RequestMetricsOptions): Promise<void> {
  checkOption(NAME, 'metrics', metrics?.requests !== undefined, 'a Metrics')
  // Route patterns only, never raw URLs: the label's values stay bounded.
  fastify.addHook('onResponse', async function countRequest (request, reply) {
    metrics.requests.observe({ route: request.routeOptions.url ?? 'unmatched', method: request.method, status: reply.statusCode }, reply.elapsedTime / 1000)
  })
}

export default fp(requestMetrics, { name: NAME, fastify: '5.x' })
