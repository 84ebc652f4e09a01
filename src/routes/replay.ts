// GET/HEAD /games/:gameId/replay → 302 to a presigned URL; /replay/url → the same URL as JSON.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import fp from 'fastify-plugin'
import { Type } from 'typebox'
import { cacheControlFor } from '../http/cache-control.js'
import type { Metrics } from '../observability/metrics.js'
import { inSpan } from '../observability/telemetry.js'
import { EMBEDDABLE } from '../plugins/security-headers.js'
import type { ReplayLocator } from '../replay/locate-replay.js'
import { errorResponse, GameIdParams, replayRouteErrors } from '../schemas/common.js'
import { ReplayUrlBody } from '../schemas/replay.js'
import type { SignMethod } from '../storage/url-signer.js'

export interface ReplayRouteOptions {
  metrics: Metrics
  locator: ReplayLocator
}

const errorResponses = {
  ...replayRouteErrors,
  404: errorResponse('GAME_NOT_FOUND', 'REPLAY_NOT_AVAILABLE'),
  503: errorResponse('DATABASE_UNAVAILABLE', 'SERVICE_OVERLOADED', 'AUTH_UNAVAILABLE')
}

const redirectSchema = {
  params: GameIdParams,
  response: {
    302: Type.Null({ description: 'Found: Location is a presigned URL of the replay object' }),
    ...errorResponses
  }
}

const replayRoutes: FastifyPluginAsyncTypebox<ReplayRouteOptions> = async function replayRoutes (fastify, { locator, metrics }) {
  const { storage } = fastify
  async function presignFor (gameId: string, method: SignMethod, log: typeof fastify.log) {
    const object = await locator.locate(gameId, log)
    const timer = metrics.signing.startTimer({ method })
    const signed = await inSpan('replay.sign', { 'http.request.method': method }, async () => await storage.presign(object, method))
    timer()
    // The log scrubs the signature and credential from the URL (src/logging.ts).
    log.debug({ key: object.key, method, url: signed.url, expiresAt: signed.expiresAt }, 'replay URL signed')
    return signed
  }

  for (const method of ['GET', 'HEAD'] as const) {
    fastify.route({
      method,
      url: '/games/:gameId/replay',
      // A HEAD must be redirected to a URL signed for HEAD: S3 refuses a HEAD
      // on a GET-signed URL, so Fastify's automatic HEAD route would not do.
      exposeHeadRoute: false,
      schema: redirectSchema,
      config: EMBEDDABLE,
      handler: async function redirectToReplay (request, reply) {
        const signed = await presignFor(request.params.gameId, method, request.log)
        return reply
          .header('X-Replay-Delivery', 'redirect')
          .header('Cache-Control', cacheControlFor(signed.expiresAt, new Date(), storage.presignTtlSeconds))
          .redirect(signed.url, 302)
      }
    })
  }

  fastify.get('/games/:gameId/replay/url', {
    schema: { params: GameIdParams, response: { 200: ReplayUrlBody, ...errorResponses } },
    config: EMBEDDABLE
  }, async function replayUrl (request, reply) {
    const { gameId } = request.params
    const signed = await presignFor(gameId, 'GET', request.log)
    reply
      .header('X-Replay-Delivery', 'redirect')
      .header('Cache-Control', cacheControlFor(signed.expiresAt, new Date(), storage.presignTtlSeconds))
    return {
      url: signed.url,
      method: 'GET' as const,
      expiresAt: signed.expiresAt.toISOString(),
      streamUrl: `/games/${gameId}/replay/stream`
    }
  })
}

export default fp(replayRoutes, { name: 'replay-gate-replay-routes', dependencies: ['replay-gate-backends'], encapsulate: true })
