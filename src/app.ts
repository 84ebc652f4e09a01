// Builds the service by registering its parts, in the order a request meets
// them. server.ts listens; tests build the same app and talk to it with
// inject() or on port 0.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Span } from '@opentelemetry/api'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { Kysely } from 'kysely'
import type { AppConfig } from './config/index.js'
import type { Database } from './db/database.js'
import { GamesRepository } from './db/games.js'
import { escapeMalformedPercents, handleError, handleNotFound } from './http/error-replies.js'
import { handleClientError, refuseConnect } from './http/socket-answers.js'
import { Metrics } from './observability/metrics.js'
import { scrubSecrets } from './observability/logging.js'
import bearerAuth from './plugins/bearer-auth.js'
import cors from './plugins/cors.js'
import errorReplies from './plugins/error-replies.js'
import forwardedForCheck from './plugins/forwarded-for-check.js'
import loadShedding from './plugins/load-shedding.js'
import openApi from './plugins/openapi.js'
import requestLog, { requestIdOf } from './plugins/request-log.js'
import requestMetrics from './plugins/request-metrics.js'
import securityHeaders from './plugins/security-headers.js'
import shutdown from './plugins/shutdown.js'
import { ReplayLocator } from './lookup/replay-locator.js'
import healthRoutes from './routes/health.js'
import metricsRoutes from './routes/metrics.js'
import profilingRoutes from './routes/profiling.js'
import replayRoutes from './routes/replay.js'
import replayStreamRoutes from './routes/replay-stream.js'
import type { ReplayStorage } from './storage/replay-storage.js'

export interface AppOptions {
  config: AppConfig
  db: Kysely<Database>
  /** The games table's queries, already checked at start (server.ts); left out, made on `db` for config.gamesTable. */
  games?: GamesRepository
  storage: ReplayStorage
  /** Closes the database and storage: the app calls it when it closes. */
  closeBackends?: () => Promise<void>
  logger?: FastifyServerOptions['logger']
  /** Left out: a registry of the app's own, with the process's metrics. */
  metrics?: Metrics
  /** How often load shedding measures the process; only tests change it. */
  pressureSampleIntervalMs?: number
  /** A span per request (@fastify/otel): server.ts turns it on when tracing is configured; off, nothing of it runs. */
  tracing?: boolean
  /** Layers left out, only so that `npm run bench` can price each one; the service always runs them. */
  without?: ReadonlyArray<'security-headers' | 'request-metrics'>
}

export async function buildApp ({ config, db, games = new GamesRepository(db, config.gamesTable), storage, closeBackends, logger = false, metrics = new Metrics(), pressureSampleIntervalMs, tracing = false, without = [] }: AppOptions): Promise<FastifyInstance> {
  const { http } = config
  const app = Fastify({
    logger,
    // One line per request, written by the request-log plugin, with the client's X-Request-Id when it is usable.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: requestIdOf,
    // Node refuses a request line longer than the header limit anyway; below
    // that, a long id must reach the route to get its 400, not a 404.
    routerOptions: { maxParamLength: http.maxHeaderBytes },
    rewriteUrl: escapeMalformedPercents,
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
    clientErrorHandler: handleClientError,
    // The shutdown plugin answers those requests itself, with the contract's JSON.
    return503OnClosing: false
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.server.on('connect', refuseConnect)

  // First, so that it sees every route defined after it. One span per request: none per hook
  // and none for the handler, which would only repeat the request's span (each route has one
  // handler) and double the spans an operator stores for nothing they read. The service's own
  // spans (lookup, signing, S3) are the request span's children: the routes hand its context down.
  if (tracing) {
    const { FastifyOtelInstrumentation } = await import('@fastify/otel')
    await app.register(new FastifyOtelInstrumentation({ instrumentHooks: false, instrumentHandler: false, requestHook: pathAndScrubbedQuery }).plugin())
  }
  await app.register(errorReplies)
  await app.register(requestLog)
  // Before the rest: while the service closes, a request is turned away before any work.
  await app.register(shutdown)
  if (closeBackends !== undefined) app.addHook('onClose', async function closeTheBackends () { await closeBackends() })
  // Before everything else that runs on a request: a shed request costs next to nothing.
  await app.register(loadShedding, { pressure: config.pressure, metrics, sampleIntervalMs: pressureSampleIntervalMs })
  if (!without.includes('security-headers')) await app.register(securityHeaders)
  if (config.corsOrigins !== undefined) await app.register(cors, { origins: config.corsOrigins, credentials: config.corsCredentials })
  await app.register(openApi, { bearerAuth: config.auth !== undefined })
  if (!without.includes('request-metrics')) await app.register(requestMetrics, { metrics })
  if (config.metricsPort === undefined) await app.register(metricsRoutes, { metrics })

  const lookups = { cache: metrics.lookups.labels({ source: 'cache' }), database: metrics.lookups.labels({ source: 'database' }) }
  // A request's way: route → locator (games table, cache) → replay object → signer or storage.
  const locator = new ReplayLocator({ games, keyPrefix: config.s3.keyPrefix, cache: config.lookupCache, onLookup: (source) => { lookups[source].inc() } })
  await app.register(async function replayApi (api) {
    // Only the replay routes: a balancer's health checks come without X-Forwarded-For anyway.
    if (config.trustProxy !== false) await api.register(forwardedForCheck, { trustProxy: config.trustProxy })
    if (config.auth !== undefined) await api.register(bearerAuth, { auth: config.auth, metrics })
    await api.register(replayRoutes, { locator, urls: storage.urls, storage, metrics, publicBaseUrl: config.publicBaseUrl })
    await api.register(replayStreamRoutes, { locator, storage, metrics, rateLimit: config.streamRateLimit, concurrency: config.streamConcurrency, trustsProxy: config.trustProxy !== false })
  })
  await app.register(healthRoutes, { games, storage, holdsGames: () => locator.holdsGames(), checkTimeoutMs: Math.min(config.databaseTimeoutMs, 2000) })
  return app
}

export interface MetricsAppOptions {
  /** PROFILING_ENABLED: /debug/profile and /debug/heap-snapshot too, logging who asks to `log`. */
  profiling?: { log: FastifyBaseLogger }
}

/** /metrics alone (and the profiling routes when enabled), for METRICS_PORT: kept off the port that faces the clients. */
export async function buildMetricsApp (metrics: Metrics, { profiling }: MetricsAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  app.setErrorHandler(handleError)
  app.setNotFoundHandler(handleNotFound)
  await app.register(metricsRoutes, { metrics })
  if (profiling !== undefined) await app.register(profilingRoutes, profiling)
  return app
}

/** The request span's url.path is the path alone; its query goes to url.query with any token in it scrubbed, as in the log. */
function pathAndScrubbedQuery (span: Span, request: FastifyRequest): void {
  const query = request.url.indexOf('?')
  if (query === -1) return
  span.setAttributes({ 'url.path': request.url.slice(0, query), 'url.query': scrubSecrets(request.url.slice(query)).slice(1) })
}

/** The n proxies nearest the service are trusted (what proxy-addr does with a number, which Fastify's types leave out). */
function trustHops (hops: number) {
  return function isTrustedHop (_address: string, hop: number): boolean { return hop < hops }
}
