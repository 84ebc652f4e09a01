// How many /stream answers run at once: per client (its token's subject, else
// its address) and for the whole instance. A segmented downloader opens many
// requests for one file, so requests are not counted, open answers are: a
// slot is taken when the request arrives and freed when its answer ends or
// its client leaves (not when the socket closes: downloaders reuse them).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { StreamConcurrencyConfig } from '../config/index.js'
import { ServiceOverloaded, TooManyStreams } from '../http/errors.js'
import type { Metrics } from '../observability/metrics.js'
import { checkOption } from './options.js'
import { clientKey } from './stream-rate-limit.js'

export interface StreamConcurrencyOptions {
  limits: StreamConcurrencyConfig
  metrics: Metrics
  /** TRUST_PROXY is set: X-Forwarded-For names the client. */
  trustsProxy: boolean
}

const NAME = 'replay-gate-stream-concurrency'
/** How soon a client may try again: a download's segment usually ends within seconds. */
const RETRY_AFTER_SECONDS = '2'

async function streamConcurrency (fastify: FastifyInstance, { limits, metrics, trustsProxy }: StreamConcurrencyOptions): Promise<void> {
  checkOption(NAME, 'limits', Number.isInteger(limits?.perClient) && Number.isInteger(limits?.total), 'stream limits: { perClient, total }')
  const open = new Map<string, number>()
  let total = 0
  let warnedOfProxy = false

  fastify.addHook('onRequest', async function takeStreamSlot (request: FastifyRequest, reply: FastifyReply) {
    if (!trustsProxy && !warnedOfProxy && (request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined)) {
      warnedOfProxy = true
      request.log.warn('requests come through a proxy (X-Forwarded-For or Forwarded) but TRUST_PROXY is not set: every client behind it shares one stream limit')
    }
    const key = clientKey(request)
    const mine = open.get(key) ?? 0
    if (limits.perClient > 0 && mine >= limits.perClient) {
      metrics.rejected.inc({ reason: 'too_many_streams', check: '' })
      reply.header('Retry-After', RETRY_AFTER_SECONDS)
      throw new TooManyStreams(String(limits.perClient))
    }
    if (limits.total > 0 && total >= limits.total) {
      metrics.rejected.inc({ reason: 'overloaded', check: 'streams' })
      reply.header('Retry-After', RETRY_AFTER_SECONDS)
      throw new ServiceOverloaded()
    }
    open.set(key, mine + 1)
    total++
    // Once per answer: when it has been sent whole, or its client has left.
    reply.raw.once('close', function freeStreamSlot () {
      total--
      const left = (open.get(key) as number) - 1
      if (left === 0) open.delete(key)
      else open.set(key, left)
    })
  })
}

// Wrapped so that the limits cover the routes registered beside it, and only those.
export default fp(streamConcurrency, { name: NAME, fastify: '5.x' })
