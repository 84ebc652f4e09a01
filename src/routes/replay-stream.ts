// GET/HEAD /games/:gameId/replay/stream: the replay's bytes through the
// service, for clients that cannot follow a cross-origin redirect. The S3
// body is piped to the client with backpressure; nothing holds the object.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { OutgoingHttpHeaders } from 'node:http'
import { Type } from 'typebox'
import { PreconditionFailed, RangeNotSatisfiable, ReplayObjectMissing, StorageTimeout, StorageUnavailable } from '../errors.js'
import { parseGameId } from '../game-id.js'
import { objectRequestFrom } from '../http/preconditions.js'
import type { ReplayLocator } from '../locate-replay.js'
import type { Metrics } from '../metrics.js'
import type { RateLimitConfig } from '../config.js'
import { EMBEDDABLE } from '../plugins/security-headers.js'
import streamRateLimit from '../plugins/stream-rate-limit.js'
import { errorResponse, GameIdParams, protectionResponses } from '../schemas/common.js'
import type { ReplayObject, ReplayStorage } from '../storage/replay-storage.js'
import { getReplayObject, headReplayObject, ObjectNotSent, type ObjectMeta, type ReadOptions } from '../storage/replay-stream.js'

export interface ReplayStreamRouteOptions {
  metrics: Metrics
  locator: ReplayLocator
  storage: ReplayStorage
  rateLimit: RateLimitConfig
}

const schema = {
  params: GameIdParams,
  response: {
    200: Type.Unknown({ description: 'The replay' }),
    206: Type.Unknown({ description: 'The requested range of the replay' }),
    304: Type.Null({ description: 'Not modified' }),
    400: errorResponse('INVALID_GAME_ID; INVALID_AUTHORIZATION_HEADER'),
    ...protectionResponses,
    404: errorResponse('GAME_NOT_FOUND, REPLAY_NOT_AVAILABLE, or REPLAY_OBJECT_MISSING: S3 does not have the object'),
    412: errorResponse('PRECONDITION_FAILED: If-Match or If-Unmodified-Since failed'),
    416: errorResponse('RANGE_NOT_SATISFIABLE: the range starts past the end (Content-Range: bytes */size)'),
    429: errorResponse('RATE_LIMITED: this client has used up its downloads through the service for now (Retry-After)'),
    500: errorResponse('INVALID_REPLAY_KEY, or INTERNAL_ERROR'),
    502: errorResponse('STORAGE_UNAVAILABLE: S3 refused the connection or answered with an error (Retry-After)'),
    503: errorResponse('DATABASE_UNAVAILABLE, SERVICE_OVERLOADED, or AUTH_UNAVAILABLE (Retry-After)'),
    504: errorResponse('STORAGE_TIMEOUT: S3 did not connect or send its first byte in time (Retry-After)')
  }
}

const replayStreamRoutes: FastifyPluginAsyncTypebox<ReplayStreamRouteOptions> = async function replayStreamRoutes (fastify, { locator, storage, metrics, rateLimit }) {
  await fastify.register(streamRateLimit, { limit: rateLimit, metrics })

  async function prepare (rawGameId: string, request: FastifyRequest, reply: FastifyReply): Promise<{ object: ReplayObject, read: ReadOptions }> {
    const gameId = parseGameId(rawGameId)
    const object = await locator.locate(gameId, request.log)
    // Aborts the S3 request as soon as the client goes away, even before S3 answers.
    const clientGone = new AbortController()
    reply.raw.once('close', () => { if (!reply.raw.writableFinished) clientGone.abort() })
    return { object, read: { gameId, key: object.key, request: objectRequestFrom(request.headers), signal: clientGone.signal } }
  }

  fastify.route({
    method: 'GET',
    url: '/games/:gameId/replay/stream',
    // Fastify's automatic HEAD would run this handler and pull the whole object from S3.
    exposeHeadRoute: false,
    schema,
    config: EMBEDDABLE,
    handler: async function streamReplay (request, reply) {
      const { object, read } = await prepare(request.params.gameId, request, reply)
      try {
        const { meta, body } = await getReplayObject(storage, read)
        let sent = 0
        // Counted once Fastify pipes the body: a 'data' listener added earlier would
        // start the flow before anything consumes it, and those bytes would be lost.
        reply.raw.once('pipe', () => { body.on('data', (chunk: Buffer) => { sent += chunk.length }) })
        reply.raw.once('close', () => {
          metrics.streamedBytes.inc(sent)
          metrics.streams.inc({ outcome: reply.raw.writableFinished ? 'complete' : 'aborted' })
        })
        return reply.code(meta.status).headers(replayHeaders(object, meta)).send(body)
      } catch (error) {
        countS3Error(metrics, error)
        return notSent(error, reply)
      }
    }
  })

  fastify.route({
    method: 'HEAD',
    url: '/games/:gameId/replay/stream',
    schema,
    config: EMBEDDABLE,
    handler: async function headReplay (request, reply) {
      const { object, read } = await prepare(request.params.gameId, request, reply)
      try {
        const meta = await headReplayObject(storage, read).catch((error: unknown) => { countS3Error(metrics, error); throw error })
        // Sent by hand: the body is empty but Content-Length must stay the
        // object's. Headers set earlier (CORS) go along.
        reply.hijack()
        reply.raw.writeHead(meta.status, { ...reply.getHeaders(), ...replayHeaders(object, meta) } as OutgoingHttpHeaders).end()
        return reply
      } catch (error) {
        return notSent(error, reply)
      }
    }
  })
}

function replayHeaders (object: ReplayObject, meta: ObjectMeta): Record<string, string> {
  const headers: Record<string, string> = {
    // S3 always sends a type (binary/octet-stream when none was stored).
    'content-type': (object.contentType ?? meta.contentType) as string,
    'content-disposition': object.contentDisposition,
    'accept-ranges': 'bytes',
    'cache-control': 'private',
    'x-replay-delivery': 'stream'
  }
  if (meta.contentLength !== undefined) headers['content-length'] = String(meta.contentLength)
  if (meta.contentRange !== undefined) headers['content-range'] = meta.contentRange
  if (meta.etag !== undefined) headers.etag = meta.etag
  if (meta.lastModified !== undefined) headers['last-modified'] = meta.lastModified.toUTCString()
  return headers
}

/** Answers S3 gave that are not errors (304, 412, 416) and a client that left are not counted. */
function countS3Error (metrics: Metrics, error: unknown): void {
  let kind: string
  if (error instanceof StorageTimeout) kind = 'timeout'
  else if (error instanceof ReplayObjectMissing) kind = 'missing'
  else if (error instanceof StorageUnavailable) {
    const status = ((error as Error).cause as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode
    kind = status === undefined ? 'network' : String(status)
  } else return
  metrics.s3Errors.inc({ kind })
}

/** 304, 412 and 416 carry the object's validators; anything else goes to the error handler as it is. */
function notSent (error: unknown, reply: FastifyReply): FastifyReply {
  if (!(error instanceof ObjectNotSent)) throw error
  reply.header('x-replay-delivery', 'stream').header('cache-control', 'private')
  if (error.etag !== undefined) reply.header('etag', error.etag)
  if (error.lastModified !== undefined) reply.header('last-modified', error.lastModified)
  if (error.status === 304) return reply.code(304).send()
  /* c8 ignore next: the emulator never answers 412; the RGW run of .ci/run covers it */
  if (error.status === 412) throw new PreconditionFailed()
  reply.header('content-range', `bytes */${error.size}`)
  throw new RangeNotSatisfiable()
}

export default replayStreamRoutes
