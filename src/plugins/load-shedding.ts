// Load shedding: while the process is overloaded (event loop delay or
// utilisation, heap or RSS past their settings) every request gets a quick 503
// with Retry-After instead of queueing behind the others. Sampled once a second.
// Liveness and metrics are exempt: an overloaded process is still alive, and
// its operator needs to see why it sheds.
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { PressureConfig } from '../config/index.js'
import { ServiceOverloaded } from '../http/errors.js'
import type { Metrics } from '../observability/metrics.js'
import { checkOption } from './options.js'

export interface LoadSheddingOptions {
  pressure: PressureConfig
  metrics: Metrics
  /** How often the process is measured; only tests change it. */
  sampleIntervalMs?: number
}

/** Route config that keeps a route answering while the rest is shed. */
export const NEVER_SHED = { pressureHandler: () => undefined }

const NAME = 'replay-gate-load-shedding'

/**
 * How late a timer of our own last fired, in ms. under-pressure reports an
 * interval in which its delay histogram took no sample as an infinite delay:
 * at start that means nothing yet, after a blocked loop it means a long block.
 * This timer tells the two apart.
 */
function watchLateness (fastify: FastifyInstance, intervalMs: number): () => number {
  let expected = performance.now() + intervalMs
  let lateness = 0
  const timer = setInterval(function measureLateness () {
    const now = performance.now()
    lateness = Math.max(0, now - expected)
    expected = now + intervalMs
  }, intervalMs).unref()
  fastify.addHook('onClose', async function stopWatchingLateness () { clearInterval(timer) })
  return () => Math.max(lateness, performance.now() - expected)
}

/**
 * Whether the event loop's measures describe the running service yet. They
 * start when this plugin loads, and the rest of the start (the plugins after
 * it, the routes' schemas compiled) then holds the loop for a while: seconds
 * on a loaded machine, which the first samples would count as load and shed
 * the first requests for. The loop is judged from two samples after the app is
 * ready on: by then every sample taken covers the service at work only.
 * Memory is judged from the start.
 */
function watchStart (fastify: FastifyInstance, intervalMs: number): () => boolean {
  let judgedFrom = Infinity
  fastify.addHook('onReady', async function startJudgingTheLoop () { judgedFrom = performance.now() + 2 * intervalMs })
  return () => performance.now() < judgedFrom
}

const LOOP_CHECKS = new Set<string>([underPressure.TYPE_EVENT_LOOP_DELAY, underPressure.TYPE_EVENT_LOOP_UTILIZATION])

async function loadShedding (fastify: FastifyInstance, { pressure, metrics, sampleIntervalMs = 1000 }: LoadSheddingOptions): Promise<void> {
  checkOption(NAME, 'pressure', Number.isInteger(pressure?.retryAfterSeconds), 'the load-shedding thresholds')
  const lateness = watchLateness(fastify, sampleIntervalMs)
  const starting = watchStart(fastify, sampleIntervalMs)
  await fastify.register(underPressure, {
    sampleInterval: sampleIntervalMs,
    maxEventLoopDelay: pressure.maxEventLoopDelayMs,
    maxEventLoopUtilization: pressure.maxEventLoopUtilization,
    // Over the last interval, not since the process started.
    eventLoopUtilizationMode: 'interval',
    maxHeapUsedBytes: pressure.maxHeapUsedBytes,
    maxRssBytes: pressure.maxRssBytes,
    pressureHandler: async function shedRequest (request: FastifyRequest, reply: FastifyReply, check: string, value: number | undefined) {
      if (LOOP_CHECKS.has(check) && starting()) return
      // No sample in the interval (value Infinity, logged as null): shed only if our own timer ran late too.
      if (value === Infinity && lateness() <= pressure.maxEventLoopDelayMs) return
      metrics.rejected.inc({ reason: 'overloaded', check })
      request.log.warn({ check, value }, 'overloaded: request shed')
      reply.header('Retry-After', String(pressure.retryAfterSeconds))
      throw new ServiceOverloaded()
    }
  })
}

export default fp(loadShedding, { name: NAME, fastify: '5.x' })
