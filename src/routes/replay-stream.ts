// GET/HEAD /games/:gameId/replay/stream: the replay's bytes through the
// service, for clients that cannot follow a cross-origin redirect. The S3
// body is piped to the client with backpressure; nothing holds the object.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { RateLimitConfig, StreamConcurrencyConfig } from '../config/index.js'
import { PreconditionFailed, RangeNotSatisfiable } from '../http/errors.js'
import { objectRequestFrom } from '../http/preconditions.js'
import { ANY_CODING, negotiate } from '../http/accept-encoding.js'
import { missingVariant, replayHeaders, validatorHeaders } from '../http/replay-headers.js'
import { varyOn } from '../http/vary.js'
import type { Metrics } from '../observability/metrics.js'
import { traceParentOf } from '../observability/telemetry.js'
import { EMBEDDABLE } from '../plugins/security-headers.js'
import streamConcurrency from '../plugins/stream-concurrency.js'
import streamRateLimit from '../plugins/stream-rate-limit.js'
import type { ReplayLocator } from '../lookup/replay-locator.js'
import type { ReplayObject } from '../model/replay-object.js'
import { checkOption, hasMethod } from '../plugins/options.js'
import { errorResponse, GameIdParams, replayRouteErrors } from '../schemas/common.js'
import { closedWith } from '../storage/cancellation.js'
import type { ObjectHead, ObjectRead, ReadOptions } from '../storage/object-reads.js'
import type { ReplayStorage } from '../storage/replay-storage.js'

export interface ReplayStreamRouteOptions {
  metrics: Metrics
  /** Game id → replay object. */
  locator: ReplayLocator
  /** Replay object → its bytes. */
  storage: ReplayStorage
  rateLimit: RateLimitConfig
  concurrency: StreamConcurrencyConfig
  /** TRUST_PROXY is set. */
  trustsProxy: boolean
}

const schema = {
  params: GameIdParams,
  response: {
    200: Type.Unknown({ description: 'The replay' }),
    206: Type.Unknown({ description: 'The requested range of the replay' }),
    304: Type.Null({ description: 'Not modified' }),
    ...replayRouteErrors,
    404: errorResponse('GAME_NOT_FOUND', 'REPLAY_NOT_AVAILABLE', 'REPLAY_OBJECT_MISSING'),
    412: errorResponse('PRECONDITION_FAILED'),
    416: errorResponse('RANGE_NOT_SATISFIABLE'),
    429: errorResponse('TOO_MANY_STREAMS', 'RATE_LIMITED'),
    502: errorResponse('STORAGE_UNAVAILABLE'),
    503: errorResponse('DATABASE_UNAVAILABLE', 'STORAGE_CREDENTIALS_MISSING', 'SERVICE_OVERLOADED', 'AUTH_UNAVAILABLE'),
    504: errorResponse('STORAGE_TIMEOUT')
  }
}

const STREAMED = { delivery: 'stream', cacheControl: 'private' } as const
const NAME = 'replay-gate-replay-stream-routes'

const replayStreamRoutes: FastifyPluginAsyncTypebox<ReplayStreamRouteOptions> = async function replayStreamRoutes (fastify, { locator, storage, metrics, rateLimit, concurrency, trustsProxy }) {
  checkOption(NAME, 'locator', hasMethod(locator, 'locate'), 'a ReplayLocator')
  checkOption(NAME, 'storage', hasMethod(storage, 'read'), 'a ReplayStorage')
  await fastify.register(streamConcurrency, { limits: concurrency, metrics, trustsProxy })
  await fastify.register(streamRateLimit, { limit: rateLimit, metrics })

  async function prepare (gameId: string, request: FastifyRequest): Promise<{ replay: ReplayObject, object: ReplayObject, read: ReadOptions }> {
    const trace = traceParentOf(request)
    const replay = await locator.locate(gameId, request.log, trace)
    // The variant the redirect would pick, by the request's own Accept-Encoding: these bytes come
    // from this service, so the coding is the one this very request says it decodes.
    const object = negotiate(replay, request.headers, ANY_CODING)
    // Aborts the S3 request as soon as the client goes away, even before S3 answers.
    return { replay, object, read: { gameId, key: object.key, request: objectRequestFrom(request.headers), signal: closedWith(request.raw), trace } }
  }

  /** A recorded variant that the bucket does not have: the replay itself instead, said once. */
  function fellBack<T extends ObjectHead | ObjectRead> (answer: T, request: FastifyRequest, prepared: { replay: ReplayObject, object: ReplayObject, read: ReadOptions }): boolean {
    if (answer.status !== 'failed' || answer.kind !== 'missing' || prepared.object === prepared.replay) return false
    missingVariant(request.log, prepared.read.gameId, prepared.object)
    prepared.object = prepared.replay
    prepared.read = { ...prepared.read, key: prepared.replay.key }
    return true
  }

  /** The answers that carry no bytes (304, 412, 416, a failure); counts S3's failures. */
  function notSent (reply: FastifyReply, answer: Exclude<ObjectHead, { status: 200 | 206 }>): FastifyReply {
    if (answer.status === 'failed') {
      metrics.s3Errors.inc({ kind: answer.kind })
      throw answer.error
    }
    reply.headers(validatorHeaders(answer.validators)).header('x-replay-delivery', 'stream').header('cache-control', 'private')
    if (answer.status === 304) return reply.code(304).send()
    if (answer.status === 412) throw new PreconditionFailed()
    reply.header('content-range', `bytes */${String(answer.size)}`)
    throw new RangeNotSatisfiable()
  }

  fastify.route({
    method: 'GET',
    url: '/games/:gameId/replay/stream',
    // Fastify's automatic HEAD would run this handler and pull the whole object from S3.
    exposeHeadRoute: false,
    schema,
    config: EMBEDDABLE,
    handler: async function streamReplay (request, reply) {
      const prepared = await prepare(request.params.gameId, request)
      let answer = await storage.read(prepared.read)
      if (fellBack(answer, request, prepared)) answer = await storage.read(prepared.read)
      const { object } = prepared
      varyOn(reply, 'Accept-Encoding')
      if (!('body' in answer)) return notSent(reply, answer)
      metrics.countReplayAnswer('stream', object)
      const { body, progress } = answer
      // Complete: every byte went to the client's socket; else the client left or S3 broke off.
      body.once('close', () => {
        const { bytes, complete } = progress()
        metrics.streamedBytes.inc(bytes)
        metrics.streams.inc({ outcome: complete ? 'complete' : 'aborted' })
      })
      return reply.code(answer.status).headers(replayHeaders(object, answer.meta, STREAMED)).send(body)
    }
  })

  fastify.route({
    method: 'HEAD',
    url: '/games/:gameId/replay/stream',
    schema,
    config: EMBEDDABLE,
    handler: async function headReplay (request, reply) {
      const prepared = await prepare(request.params.gameId, request)
      let answer = await storage.head(prepared.read)
      if (fellBack(answer, request, prepared)) answer = await storage.head(prepared.read)
      const { object } = prepared
      varyOn(reply, 'Accept-Encoding')
      if (!('meta' in answer)) return notSent(reply, answer)
      metrics.countReplayAnswer('stream', object)
      // Fastify keeps a HEAD answer's Content-Length: it is the object's, the body is empty.
      return reply.code(answer.status).headers(replayHeaders(object, answer.meta, STREAMED)).send()
    }
  })
}

export default fp(replayStreamRoutes, { name: NAME, encapsulate: true })
