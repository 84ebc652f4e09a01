// Builds the service: CORS, error handling, routes. server.ts listens; tests
// build the same app and talk to it with inject() or on port 0.
import cors from '@fastify/cors'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import swagger from '@fastify/swagger'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { Kysely } from 'kysely'
import { readFileSync } from 'node:fs'
import { STATUS_CODES } from 'node:http'
import { Type } from 'typebox'
import type { Config } from './config.js'
import type { Database } from './db/database.js'
import { InvalidGameId, isContractError, RouteNotFound } from './errors.js'
import { ReplayLocator } from './locate-replay.js'
import { Metrics } from './metrics.js'
import healthRoutes from './routes/health.js'
import replayRoutes from './routes/replay.js'
import replayStreamRoutes from './routes/replay-stream.js'
import type { ReplayStorage } from './storage/replay-storage.js'

export interface AppOptions {
  config: Pick<Config, 'corsOrigins' | 'corsCredentials' | 'presignTtlSeconds' | 'databaseTimeoutMs' | 'lookupCache'> & { s3: Pick<Config['s3'], 'keyPrefix'> }
  db: Kysely<Database>
  storage: ReplayStorage
  logger?: FastifyServerOptions['logger']
  /** Left out: a registry of the app's own, with the process's metrics. */
  metrics?: Metrics
}

// The same relative path from src/ and from dist/.
const PACKAGE = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

// Node refuses request lines longer than its header limit (16 KiB) anyway;
// below that, a long id must reach the route to get its 400, not a 404.
const MAX_PARAM_LENGTH = 16 * 1024

export async function buildApp ({ config, db, storage, logger = false, metrics = new Metrics() }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // The service sits behind proxies it does not know: take nothing from Host or X-Forwarded-*.
    trustProxy: false,
    frameworkErrors: handleFrameworkError
  }).withTypeProvider<TypeBoxTypeProvider>()

  // First, so that it sees every route and hook defined after it.
  await app.register(new FastifyOtelInstrumentation().plugin())
  app.setErrorHandler(handleError)
  app.setNotFoundHandler(handleNotFound)

  if (config.corsOrigins !== undefined) {
    await app.register(cors, {
      origin: config.corsOrigins,
      credentials: config.corsCredentials,
      methods: ['GET', 'HEAD'],
      exposedHeaders: ['X-Replay-Delivery', 'Content-Disposition', 'Content-Length', 'Content-Range', 'Accept-Ranges', 'ETag', 'Last-Modified', 'Retry-After'],
      maxAge: 600
    })
  }

  await app.register(swagger, {
    // HEAD answers differ from GET's here (a URL signed for HEAD; headers only): they are listed too.
    exposeHeadRoutes: true,
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'replay-gate',
        version: PACKAGE.version,
        description: 'Hands out game replays stored in S3: a presigned 302 redirect, the signed URL as JSON, or the bytes streamed through.'
      }
    }
  })
  app.get('/openapi.json', { schema: { hide: true } }, async function openapi () {
    return app.swagger()
  })

  // Route patterns only, never raw URLs: the label's values stay bounded.
  app.addHook('onResponse', async function countRequest (request, reply) {
    metrics.requests.observe({ route: request.routeOptions.url ?? 'unmatched', method: request.method, status: reply.statusCode }, reply.elapsedTime / 1000)
  })
  app.get('/metrics', {
    schema: { response: { 200: Type.String({ description: 'Prometheus text format' }) }, produces: ['text/plain'] }
  }, async function serveMetrics (_request, reply) {
    return await reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })

  const locator = new ReplayLocator({ db, keyPrefix: config.s3.keyPrefix, cache: config.lookupCache, onLookup: (source) => { metrics.lookups.inc({ source }) } })
  await app.register(replayRoutes, { locator, storage, metrics })
  await app.register(replayStreamRoutes, { locator, storage, metrics })
  await app.register(healthRoutes, { db, storage, checkTimeoutMs: Math.min(config.databaseTimeoutMs, 2000) })
  return app
}

const REPLAY_ROUTE = /^\/games\/[^/]*\/replay(?:\/url|\/stream)?$/

/** Malformed percent-encoding never reaches a route: in a game id it is still a bad id. */
function handleFrameworkError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const path = request.url.split('?')[0] as string
  if (REPLAY_ROUTE.test(path)) {
    sendError(reply, new InvalidGameId())
    return
  }
  sendError(reply, { statusCode: error.statusCode as number, code: error.code, message: 'The request URL is not valid' })
}

function handleNotFound (request: FastifyRequest, reply: FastifyReply): void {
  const path = request.url.split('?')[0] as string
  sendError(reply, new RouteNotFound(request.method, path.length > 200 ? `${path.slice(0, 200)}…` : path))
}

function handleError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // Only the game id has a schema: a failed validation is a bad id.
  if (error.validation !== undefined) {
    sendError(reply, new InvalidGameId())
    return
  }
  const status = error.statusCode ?? 500
  if (status >= 500) {
    request.log.error({ err: error, cause: error.cause }, 'request failed')
  }
  // A 5xx that is not one of ours says nothing of its cause to the client.
  const safe = status < 500 || isContractError(error)
  sendError(reply, safe
    ? { statusCode: status, code: error.code, message: error.message }
    : { statusCode: 500, code: 'INTERNAL_ERROR', message: 'Something went wrong on our side' })
}

function sendError (reply: FastifyReply, { statusCode, code, message }: { statusCode: number, code: string, message: string }): void {
  // An outage of the database or of S3 is usually over within seconds.
  if (statusCode === 502 || statusCode === 503 || statusCode === 504) reply.header('Retry-After', '5')
  reply
    .code(statusCode)
    .header('Cache-Control', 'no-store')
    .type('application/json; charset=utf-8')
    .send({
      statusCode,
      code,
      error: STATUS_CODES[statusCode] as string,
      message
    })
}
