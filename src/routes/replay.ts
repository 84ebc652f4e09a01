// GET /games/:gameId/replay → 302 to a presigned URL; HEAD → the download's headers, from S3;
// /replay/url → the signed URL as JSON.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Type } from 'typebox'
import { ANY_CODING, GZIP_ONLY, negotiate } from '../http/accept-encoding.js'
import { cacheControlFor } from '../http/cache-control.js'
import { missingVariant, replayHeaders } from '../http/replay-headers.js'
import { varyOn } from '../http/vary.js'
import type { Metrics } from '../observability/metrics.js'
import { traceParentOf } from '../observability/telemetry.js'
import { EMBEDDABLE } from '../plugins/security-headers.js'
import type { ReplayLocator } from '../lookup/replay-locator.js'
import type { ReplayObject } from '../model/replay-object.js'
import { checkOption, hasMethod } from '../plugins/options.js'
import { errorResponse, GameIdParams, replayRouteErrors } from '../schemas/common.js'
import { ReplayUrlBody } from '../schemas/replay.js'
import type { ReplayUrls } from '../signing/replay-urls.js'
import { closedWith } from '../storage/cancellation.js'
import type { ReplayStorage } from '../storage/replay-storage.js'

export interface ReplayRouteOptions {
  metrics: Metrics
  /** Game id → replay object. */
  locator: ReplayLocator
  /** Replay object → the URL handed out. */
  urls: ReplayUrls
  /** What HEAD describes the object from. */
  storage: ReplayStorage
  /** PUBLIC_BASE_URL, without a trailing slash: streamUrl is absolute when it is set. */
  publicBaseUrl: string | undefined
}

const errorResponses = {
  ...replayRouteErrors,
  404: errorResponse('GAME_NOT_FOUND', 'REPLAY_NOT_AVAILABLE'),
  503: errorResponse('DATABASE_UNAVAILABLE', 'STORAGE_CREDENTIALS_MISSING', 'SERVICE_OVERLOADED', 'AUTH_UNAVAILABLE')
}

const redirectSchema = {
  params: GameIdParams,
  response: {
    302: Type.Null({ description: 'Found: Location is a presigned GET URL of the replay object' }),
    ...errorResponses
  }
}

const headSchema = {
  params: GameIdParams,
  response: {
    200: Type.Unknown({ description: 'The headers a download will have (Content-Length, Content-Type, Content-Disposition, ETag, Last-Modified), from S3; never a redirect' }),
    ...errorResponses,
    404: errorResponse('GAME_NOT_FOUND', 'REPLAY_NOT_AVAILABLE', 'REPLAY_OBJECT_MISSING'),
    502: errorResponse('STORAGE_UNAVAILABLE'),
    504: errorResponse('STORAGE_TIMEOUT')
  }
}

function redirect (reply: FastifyReply, url: string): void {
  varyOn(reply, 'Accept-Encoding')
  reply
    .header('X-Replay-Delivery', 'redirect')
    // Revalidated every time: a browser may answer a HEAD from a GET's cached 302. The
    // URL itself is reused within its window, so S3's object stays cacheable.
    .header('Cache-Control', 'no-cache')
    .redirect(url, 302)
}

const NAME = 'replay-gate-replay-routes'

const replayRoutes: FastifyPluginAsyncTypebox<ReplayRouteOptions> = async function replayRoutes (fastify, { locator, urls, storage, metrics, publicBaseUrl }) {
  checkOption(NAME, 'locator', hasMethod(locator, 'locate'), 'a ReplayLocator')
  checkOption(NAME, 'urls', hasMethod(urls, 'presign'), 'a ReplayUrls')
  checkOption(NAME, 'storage', hasMethod(storage, 'describe'), 'a ReplayStorage')
  const signing = metrics.signing.labels({ method: 'GET' })
  // br and zstd only through https: URLs (see accept-encoding.ts).
  const allowed = urls.secure ? ANY_CODING : GZIP_ONLY
  /** The signed URL of the replay (or the variant) a request gets; `known` is its object when the caller has it already. */
  async function presignFor (gameId: string, request: FastifyRequest, known?: ReplayObject) {
    const { log } = request
    const trace = traceParentOf(request)
    const object = negotiate(known ?? await locator.locate(gameId, log, trace), request.headers, allowed)
    const started = performance.now()
    const signed = await urls.presign(object, { trace })
    signing.observe((performance.now() - started) / 1000)
    // The log scrubs the signature and credential from the URL (src/observability/logging.ts).
    log.debug({ key: object.key, url: signed.url, expiresAt: signed.expiresAt }, 'replay URL signed')
    return { signed, object }
  }

  fastify.route({
    method: 'GET',
    url: '/games/:gameId/replay',
    // HEAD is answered below: a redirect to a GET-signed URL would fail for it.
    exposeHeadRoute: false,
    schema: redirectSchema,
    config: EMBEDDABLE,
    handler: function redirectToReplay (request, reply) {
      const { gameId } = request.params
      // The common case, a cached game whose URL of this window is already signed, is answered
      // at once: no promise, no await. Anything else takes the way that may wait.
      const started = performance.now()
      const object = locator.cached(gameId)
      const chosen = object === undefined ? undefined : negotiate(object, request.headers, allowed)
      const reused = chosen === undefined ? undefined : urls.reusedUrl(chosen)
      if (reused !== undefined) {
        signing.observe((performance.now() - started) / 1000)
        metrics.countReplayAnswer('redirect', chosen as ReplayObject)
        redirect(reply, reused.url)
        return
      }
      return presignFor(gameId, request, object).then(({ signed, object: signedFor }) => {
        metrics.countReplayAnswer('redirect', signedFor)
        redirect(reply, signed.url)
      })
    }
  })

  fastify.route({
    method: 'HEAD',
    url: '/games/:gameId/replay',
    schema: headSchema,
    config: EMBEDDABLE,
    handler: async function describeReplay (request, reply) {
      const { gameId } = request.params
      const trace = traceParentOf(request)
      const replay = await locator.locate(gameId, request.log, trace)
      let object = negotiate(replay, request.headers, allowed)
      const signal = closedWith(request.raw)
      let answer = await storage.describe({ gameId, key: object.key, signal, trace })
      if (answer.status === 'failed' && answer.kind === 'missing' && object !== replay) {
        // A recorded variant that the bucket does not have: the replay itself is described instead.
        missingVariant(request.log, gameId, object)
        object = replay
        answer = await storage.describe({ gameId, key: object.key, signal, trace })
      }
      varyOn(reply, 'Accept-Encoding')
      if (answer.status === 'failed') {
        metrics.s3Errors.inc({ kind: answer.kind })
        // Under a role that may only read objects (s3:GetObject), S3 answers a missing key with 403.
        if (answer.kind === '403') request.log.warn({ gameId, key: object.key }, 'S3 refused HeadObject with 403: with s3:GetObject alone that is how it answers a missing object; else the credentials are refused')
        throw answer.error
      }
      const { meta } = answer as Extract<typeof answer, { meta: unknown }>
      metrics.countReplayAnswer('head', object)
      // Revalidated, like the redirect; no payload at all: Fastify keeps this Content-Length and Content-Type as they are.
      return reply.code(200).headers(replayHeaders(object, meta, { delivery: 'redirect', cacheControl: 'no-cache' })).send()
    }
  })

  fastify.get('/games/:gameId/replay/url', {
    schema: { params: GameIdParams, response: { 200: ReplayUrlBody, ...errorResponses } },
    config: EMBEDDABLE
  }, async function replayUrl (request, reply) {
    const { gameId } = request.params
    const { signed, object } = await presignFor(gameId, request)
    metrics.countReplayAnswer('url', object)
    varyOn(reply, 'Accept-Encoding')
    reply
      .header('X-Replay-Delivery', 'redirect')
      .header('Cache-Control', cacheControlFor(signed.expiresAt, new Date(), urls.ttlSeconds))
    const streamPath = `/games/${gameId}/replay/stream`
    return {
      url: signed.url,
      method: 'GET' as const,
      expiresAt: signed.expiresAt.toISOString(),
      // Never built from Host: only what the operator said the service's public URL is.
      streamUrl: publicBaseUrl === undefined ? streamPath : `${publicBaseUrl}${streamPath}`,
      encoding: object.contentEncoding ?? 'identity' as const
    }
  })
}

export default fp(replayRoutes, { name: NAME, encapsulate: true })
