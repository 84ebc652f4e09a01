// Builds the service: protection (timeouts, load shedding, security headers,
// optional bearer auth, the stream's rate limit), CORS, error handling, routes.
// server.ts listens; tests build the same app and talk to it with inject() or on port 0.
import cors from '@fastify/cors'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import swagger from '@fastify/swagger'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { Kysely } from 'kysely'
import { readFileSync } from 'node:fs'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Config } from './config.js'
import type { Database } from './db/database.js'
import { InvalidGameId, isContractError, RouteNotFound, ServiceOverloaded } from './errors.js'
import { ReplayLocator } from './locate-replay.js'
import { Metrics } from './metrics.js'
import bearerAuth from './plugins/bearer-auth.js'
import loadShedding from './plugins/load-shedding.js'
import securityHeaders from './plugins/security-headers.js'
import healthRoutes from './routes/health.js'
import metricsRoutes from './routes/metrics.js'
import replayRoutes from './routes/replay.js'
import replayStreamRoutes from './routes/replay-stream.js'
import type { ReplayStorage } from './storage/replay-storage.js'

export interface AppOptions {
  config: Pick<Config, 'corsOrigins' | 'corsCredentials' | 'presignTtlSeconds' | 'databaseTimeoutMs' | 'lookupCache' | 'http' | 'trustProxy' | 'pressure' | 'streamRateLimit' | 'auth' | 'metricsPort'> & { s3: Pick<Config['s3'], 'keyPrefix'> }
  db: Kysely<Database>
  storage: ReplayStorage
  logger?: FastifyServerOptions['logger']
  /** Left out: a registry of the app's own, with the process's metrics. */
  metrics?: Metrics
  /** How often load shedding measures the process; only tests change it. */
  pressureSampleIntervalMs?: number
}

// The same relative path from src/ and from dist/.
const PACKAGE = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

export async function buildApp ({ config, db, storage, logger = false, metrics = new Metrics(), pressureSampleIntervalMs }: AppOptions): Promise<FastifyInstance> {
  const { http } = config
  const app = Fastify({
    logger,
    // Node refuses a request line longer than the header limit anyway; below
    // that, a long id must reach the route to get its 400, not a 404.
    routerOptions: { maxParamLength: http.maxHeaderBytes },
    // Only for the client's address (rate limits, logs); Location and streamUrl never use Host or X-Forwarded-*.
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    http: {
      maxHeaderSize: http.maxHeaderBytes,
      headersTimeout: http.headersTimeoutMs,
      requestTimeout: http.requestTimeoutMs,
      // How often Node looks for connections past those two limits (30 s by default).
      connectionsCheckingInterval: Math.min(1000, http.headersTimeoutMs)
    },
    requestTimeout: http.requestTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    // A socket on which nothing moves: a download that a client stopped reading, a silent connection.
    connectionTimeout: http.idleTimeoutMs,
    frameworkErrors: handleFrameworkError,
    clientErrorHandler: handleClientError
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.server.on('connect', refuseConnect)

  // First, so that it sees every route and hook defined after it.
  await app.register(new FastifyOtelInstrumentation().plugin())
  app.setErrorHandler(handleError)
  app.setNotFoundHandler(handleNotFound)
  // Before everything else that runs on a request: a shed request costs next to nothing.
  await app.register(loadShedding, { pressure: config.pressure, metrics, sampleIntervalMs: pressureSampleIntervalMs })
  await app.register(securityHeaders)

  if (config.corsOrigins !== undefined) {
    await app.register(cors, {
      origin: config.corsOrigins,
      credentials: config.corsCredentials,
      methods: ['GET', 'HEAD'],
      // An OPTIONS without Access-Control-Request-Method would get a plain-text 400; answer it like a preflight.
      strictPreflight: false,
      exposedHeaders: [
        'X-Replay-Delivery', 'Content-Disposition', 'Content-Length', 'Content-Range', 'Accept-Ranges', 'ETag', 'Last-Modified',
        'Retry-After', 'WWW-Authenticate', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'
      ],
      maxAge: 600
    })
    if (config.corsCredentials) {
      // @fastify/cors says "credentials: true" to every origin; only an allowed one should hear it.
      app.addHook('onSend', async function credentialsOnlyForAllowedOrigins (_request, reply, payload) {
        if (!reply.hasHeader('access-control-allow-origin')) reply.removeHeader('access-control-allow-credentials')
        return payload
      })
    }
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
      },
      // The replay routes' tokens; health and metrics say `security: []`.
      ...(config.auth === undefined
        ? {}
        : { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } }, security: [{ bearer: [] }] })
    }
  })
  app.get('/openapi.json', { schema: { hide: true } }, async function openapi () {
    return app.swagger()
  })

  // Route patterns only, never raw URLs: the label's values stay bounded.
  app.addHook('onResponse', async function countRequest (request, reply) {
    metrics.requests.observe({ route: request.routeOptions.url ?? 'unmatched', method: request.method, status: reply.statusCode }, reply.elapsedTime / 1000)
  })
  if (config.metricsPort === undefined) await app.register(metricsRoutes, { metrics })

  const locator = new ReplayLocator({ db, keyPrefix: config.s3.keyPrefix, cache: config.lookupCache, onLookup: (source) => { metrics.lookups.inc({ source }) } })
  await app.register(async function replayApi (api) {
    if (config.auth !== undefined) await api.register(bearerAuth, { auth: config.auth, metrics })
    await api.register(replayRoutes, { locator, storage, metrics })
    await api.register(replayStreamRoutes, { locator, storage, metrics, rateLimit: config.streamRateLimit })
  })
  await app.register(healthRoutes, { db, storage, checkTimeoutMs: Math.min(config.databaseTimeoutMs, 2000) })
  return app
}

/** /metrics alone, for METRICS_PORT: kept off the port that faces the clients. */
export async function buildMetricsApp (metrics: Metrics): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  app.setNotFoundHandler(handleNotFound)
  await app.register(metricsRoutes, { metrics })
  return app
}

/** The n proxies nearest the service are trusted (what proxy-addr does with a number, which Fastify's types leave out). */
function trustHops (hops: number) {
  return function isTrustedHop (_address: string, hop: number): boolean { return hop < hops }
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

/**
 * A request Node's parser refuses never reaches Fastify's routes: it is
 * answered here, on the socket, with the contract's JSON like every other error.
 */
function handleClientError (this: FastifyInstance, error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  this.log.debug({ err: error }, 'client error')
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') answerOnSocket(socket, 408, 'REQUEST_TIMEOUT', 'The request was not received in time')
  else if (error.code === 'HPE_HEADER_OVERFLOW') answerOnSocket(socket, 431, 'HEADERS_TOO_LARGE', 'The request line and headers are too large')
  else answerOnSocket(socket, 400, 'MALFORMED_REQUEST', 'The request is not well-formed HTTP')
}

/** CONNECT goes to its own event, not to the routes; unanswered, Node would just drop the connection. */
function refuseConnect (_request: unknown, socket: Duplex): void {
  answerOnSocket(socket, 405, 'METHOD_NOT_ALLOWED', 'CONNECT is not supported: this is not a proxy', 'Allow: GET, HEAD\r\n')
}

function answerOnSocket (socket: Duplex, statusCode: number, code: string, message: string, extraHeaders = ''): void {
  const body = JSON.stringify(errorBody(statusCode, code, message))
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] as string}\r\nConnection: close\r\nCache-Control: no-store\r\n${extraHeaders}` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  }
  socket.destroy()
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
  // A shed request is counted and logged where it is shed; a flood of error lines would add to the load.
  if (status >= 500 && !(error instanceof ServiceOverloaded)) {
    request.log.error({ err: error, cause: error.cause }, 'request failed')
  }
  // A 5xx that is not one of ours says nothing of its cause to the client.
  const safe = status < 500 || isContractError(error)
  sendError(reply, safe
    ? { statusCode: status, code: error.code, message: error.message }
    : { statusCode: 500, code: 'INTERNAL_ERROR', message: 'Something went wrong on our side' })
}

function sendError (reply: FastifyReply, { statusCode, code, message }: { statusCode: number, code: string, message: string }): void {
  // An outage of the database or of S3 is usually over within seconds (load shedding and rate limits set their own).
  if ((statusCode === 502 || statusCode === 503 || statusCode === 504) && !reply.hasHeader('Retry-After')) reply.header('Retry-After', '5')
  reply
    .code(statusCode)
    .header('Cache-Control', 'no-store')
    .type('application/json; charset=utf-8')
    .send(errorBody(statusCode, code, message))
}

/** The contract's error body, the same from a route and from the socket. */
function errorBody (statusCode: number, code: string, message: string) {
  return { statusCode, code, error: STATUS_CODES[statusCode] as string, message }
}
