// A per-client limit on the streaming fallback, the one route that carries a
// replay's bytes through the service. A client is its token's subject when the
// routes require a token, else its address (see TRUST_PROXY behind a proxy).
// Counted per instance, in memory.
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { RateLimitConfig } from '../config/index.js'
import { RateLimited } from '../http/errors.js'
import type { Metrics } from '../observability/metrics.js'
import { checkOption } from './options.js'

export interface StreamRateLimitOptions {
  limit: RateLimitConfig
  metrics: Metrics
}

export function clientKey (request: FastifyRequest): string {
  return request.tokenSubject === undefined ? `ip:${request.ip}` : `sub:${request.tokenSubject}`
}

const NAME = 'replay-gate-stream-rate-limit'

async function streamRateLimit (fastify: FastifyInstance, { limit, metrics }: StreamRateLimitOptions): Promise<void> {
  checkOption(NAME, 'limit', Number.isInteger(limit?.max), 'a rate limit: { max, windowSeconds }')
  if (limit.max === 0) return
  await fastify.register(rateLimit, {
    max: limit.max,
    timeWindow: limit.windowSeconds * 1000,
    keyGenerator: clientKey,
    onExceeded: function countRateLimited () { metrics.rejected.inc({ reason: 'rate_limited', check: '' }) },
    errorResponseBuilder: function rateLimited (_request, { after }) { return new RateLimited(after) }
  })
}

// Wrapped so that the limit covers the routes registered beside it, and only those.
export default fp(streamRateLimit, { name: NAME, fastify: '5.x' })
