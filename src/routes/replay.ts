// GET/HEAD /games/:gameId/replay → 302 to a presigned URL; /replay/url → the same URL as JSON.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { parseGameId } from '../game-id.js'
import type { ReplayLocator } from '../locate-replay.js'
import type { Metrics } from '../metrics.js'
import { EMBEDDABLE } from '../plugins/security-headers.js'
import { inSpan } from '../telemetry.js'
import { errorResponse, GameIdParams, protectionResponses } from '../schemas/common.js'
import { ReplayUrlBody } from '../schemas/replay.js'
import type { PresignMethod, ReplayStorage } from '../storage/replay-storage.js'

export interface ReplayRouteOptions {
  metrics: Metrics
  locator: ReplayLocator
  storage: ReplayStorage
}

const errorResponses = {
  400: errorResponse('INVALID_GAME_ID: the id is not a decimal from 1 to 9007199254740991; INVALID_AUTHORIZATION_HEADER'),
  ...protectionResponses,
  404: errorResponse('GAME_NOT_FOUND, or REPLAY_NOT_AVAILABLE: the game has no replay yet'),
  500: errorResponse('INVALID_REPLAY_KEY: the stored folder or file would make an unsafe key; INTERNAL_ERROR'),
  503: errorResponse('DATABASE_UNAVAILABLE: the database did not answer in time; SERVICE_OVERLOADED; AUTH_UNAVAILABLE: the token keys could not be fetched (Retry-After)')
}

const redirectSchema = {
  params: GameIdParams,
  response: {
    302: Type.Null({ description: 'Found: Location is a presigned URL of the replay object' }),
    ...errorResponses
  }
}

/**
 * A redirect may be cached by the browser only while its URL still works; a
 * tenth of the TTL is kept back for a client clock that runs a little ahead.
 */
export function cacheControlFor (expiresAt: Date, now: Date, ttlSeconds: number): string {
  const left = Math.floor((expiresAt.getTime() - now.getTime()) / 1000) - Math.ceil(ttlSeconds / 10)
  return left >= 1 ? `private, max-age=${left}` : 'no-store'
}

const replayRoutes: FastifyPluginAsyncTypebox<ReplayRouteOptions> = async function replayRoutes (fastify, { locator, storage, metrics }) {
  async function presignFor (gameId: string, method: PresignMethod, log: typeof fastify.log) {
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
        const gameId = parseGameId(request.params.gameId)
        const signed = await presignFor(gameId, method, request.log)
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
    const gameId = parseGameId(request.params.gameId)
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

export default replayRoutes
