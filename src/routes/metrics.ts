// GET /metrics: Prometheus' text format. Answers while the service sheds load,
// so that its operator can see why.
import type { FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import type { Metrics } from '../observability/metrics.js'
import { NEVER_SHED } from '../plugins/load-shedding.js'
import { PROBE } from '../plugins/request-log.js'

/** Answered while the rest is shed; its request line is logged at debug. */
const PROBE_ROUTE = { ...NEVER_SHED, ...PROBE }

export interface MetricsRouteOptions {
  metrics: Metrics
}

const metricsRoutes: FastifyPluginAsync<MetricsRouteOptions> = async function metricsRoutes (fastify, { metrics }) {
  fastify.get('/metrics', {
    schema: { response: { 200: Type.String({ description: 'Prometheus text format' }) }, produces: ['text/plain'], security: [] },
    config: PROBE_ROUTE
  }, async function serveMetrics (_request, reply) {
    return await reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}

export default metricsRoutes
