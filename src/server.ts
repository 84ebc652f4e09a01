// The only file that listens: reads the settings, opens the backends, serves,
// and shuts down cleanly on SIGTERM or SIGINT.
// Only the settings are loaded before they are checked: a bad one stops the start
// at once, before the app, the S3 client and the rest are loaded (about a second).
import type { Kysely } from 'kysely'
import { writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { loadEnvFile } from './config/env-file.js'
import { parseConfig, redactUrl, type Config, type ConfiguredConfig, type LogLevel } from './config/index.js'
import type { Database } from './db/database.js'
import type { GamesRepository } from './db/games.js'
import { tuneHeap } from './heap-tuning.js'
import type { Metrics } from './observability/metrics.js'
import { logWarningsAsJson } from './observability/process-warnings.js'
import type { ReplayStorage } from './storage/replay-storage.js'

interface Backends {
  db: Kysely<Database>
  /** The games table's queries, on the table the settings name. */
  games: GamesRepository
  storage: ReplayStorage
  close: () => Promise<void>
  /** What the start prints once the service listens. */
  announce: (app: { listeningOrigin: string, log: { info: (details: object, message: string) => void, warn: (details: object, message: string) => void } }) => void
}

async function configuredBackends (config: ConfiguredConfig, metrics: Metrics): Promise<Backends> {
  const [{ openDatabase }, { openStorage }, { cdnSigner }, { warnIfNotMigrated }] = await Promise.all([import('./db/database.js'), import('./storage/open-storage.js'), import('./signing/cloudfront-signer.js'), import('./db/migrate.js')])
  const database = await openDatabase({ postgres: { url: config.databaseUrl, timeoutMs: config.databaseTimeoutMs, maxConnections: config.databasePoolSize } }, config.gamesTable)
  metrics.observePool(database.pool)
  const storage = openStorage({ ...config, signer: cdnSigner(config.cdn), headCache: config.lookupCache, onRequest: metrics.observeS3Request })
  return {
    db: database.db,
    games: database.games,
    storage,
    close: async () => {
      storage.close()
      await database.close()
    },
    announce: (app) => {
      app.log.info({ database: redactUrl(config.databaseUrl), bucket: config.s3.bucket, endpoint: config.s3.endpoint, cdn: config.cdn?.url, metricsPort: config.metricsPort, auth: config.auth === undefined ? 'off' : 'bearer' }, 'serving replays')
      // Beside the serving: a database never migrated is said at start, not at the first lookup.
      warnIfNotMigrated(database.db, app.log, config.gamesTable) // never rejects: it catches its own failures
    }
  }
}

/** Pino's numbers for the levels, for the lines written outside the app's logger. */
const LEVELS: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity }

/** What the lines written outside the app's logger need, and a signal that came during the start. */
const lifecycle: { level: number, flushLog: (() => void) | undefined, stopping: NodeJS.Signals | undefined } = {
  level: LEVELS.info,
  flushLog: undefined,
  stopping: undefined
}

/**
 * A JSON line as the app's log writes them, written at once (also from the
 * process's exit event): before the app's logger exists, and for the last
 * line, after what the log still holds.
 */
function say (level: 'info' | 'warn' | 'error', details: object, msg: string): void {
  lifecycle.flushLog?.()
  if (LEVELS[level] < lifecycle.level) return
  writeSync(1, `${JSON.stringify({ level: LEVELS[level], time: Date.now(), pid: process.pid, hostname: hostname(), ...details, msg })}\n`)
}

/** Until the shutdown takes over: the start goes on to where what is opening can be closed (a database half made must not be left so), then stops. */
function onSignalDuringStart (signal: NodeJS.Signals): void {
  if (lifecycle.stopping !== undefined) {
    say('warn', { signal }, 'a second signal during the start: exiting at once')
    process.exit(1)
  }
  lifecycle.stopping = signal
  say('warn', { signal }, 'stopping during the start: what is opening is closed once it is open')
}

/** Closes what the start opened, and exits 0. */
async function stopStarting (close: () => Promise<void>): Promise<never> {
  await close()
  process.exit(0)
}

async function main (): Promise<void> {
  tuneHeap()
  logWarningsAsJson()
  // The last line of every run: after a shutdown, a failed start, or any other exit.
  process.on('exit', (exitCode) => { say(exitCode === 0 ? 'info' : 'error', { exitCode }, 'stopped') })
  process.on('SIGTERM', onSignalDuringStart)
  process.on('SIGINT', onSignalDuringStart)
  const envFile = loadEnvFile()
  let config: Config
  try {
    config = parseConfig(process.env)
  } catch (error) {
    // parseConfig throws only ConfigError, whose message lists every bad setting.
    fail(`${(error as Error).message}\nSee .env.example for every setting.`)
  }
  lifecycle.level = LEVELS[config.logLevel]
  say('info', { mode: config.mode }, 'starting')

  // The app's modules load while the backends open.
  const loading = Promise.all([
    import('close-with-grace'), import('./app.js'), import('./observability/logging.js'), import('./observability/telemetry.js')
  ])
  loading.catch(() => {}) // awaited below; a failure is reported there

  // Before the backends: their S3 client and database pool report to it.
  const metrics = new (await import('./observability/metrics.js')).Metrics()
  let backends: Backends
  if (config.mode === 'local') {
    try {
      // Loaded only here: the embedded database and S3 emulator are development dependencies,
      // left out of a production install (npm ci --omit=dev) and of the container image.
      const { localBanner, startLocalBackends } = await import('./local/local-mode.js')
      const local = await startLocalBackends(config, { onS3Request: metrics.observeS3Request })
      backends = { ...local, announce: (app) => { process.stdout.write(localBanner(app.listeningOrigin, local)) } }
    } catch (error) {
      /* c8 ignore next 3: the tests run with the development dependencies; scripts/rehearse-image.sh starts a production install */
      if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
        fail(`local mode needs the embedded database and S3 emulator, which a production install (npm ci --omit=dev) leaves out: set DATABASE_URL and S3_BUCKET, or install with npm ci (${(error as Error).message})`)
      }
      fail(`its backends did not open: ${(error as Error).message}`)
    }
  } else {
    backends = await configuredBackends(config, metrics)
  }
  const unchecked = await checkGamesTable(backends.games, config.databaseTimeoutMs)
  const [{ default: closeWithGrace }, { buildApp, buildMetricsApp }, { loggerOptions, standardOutput }, { startTracing }] = await loading
  // Before the app: @fastify/otel finds the provider when its plugin registers.
  const tracing = await startTracing(config.telemetry)
  const log = standardOutput()
  lifecycle.flushLog = log.flush
  const app = await buildApp({ config, db: backends.db, games: backends.games, storage: backends.storage, closeBackends: backends.close, logger: loggerOptions(config.logLevel, log), metrics, tracing: tracing !== undefined })
  const metricsApp = config.metricsPort === undefined ? undefined : await buildMetricsApp(metrics, { profiling: config.profilingEnabled ? { log: app.log } : undefined })
  app.addHook('onClose', async function closeTheRest () {
    await metricsApp?.close()
    await tracing?.shutdown() // sends the spans still waiting
  })
  // One place to stop a start that a signal interrupted: the app closes the backends with it.
  if (lifecycle.stopping !== undefined) await stopStarting(async () => { await app.close() })

  // From here on (no await since the check above), a signal is the shutdown's.
  process.off('SIGTERM', onSignalDuringStart)
  process.off('SIGINT', onSignalDuringStart)

  // Drain: /readyz answers 503 for SHUTDOWN_DELAY_MS while requests are still served, so that a
  // balancer stops sending new ones. Then stop accepting, let running downloads finish until
  // SHUTDOWN_TIMEOUT_MS, cut what is left, close the database and S3 clients, exit 0 (at once
  // when the last download ends). A second signal exits at once (close-with-grace), as does a
  // close stuck past both together.
  closeWithGrace({ delay: config.shutdownDelayMs + config.shutdownTimeoutMs + 5000, logger: jsonLines(app.log) }, async function shutDown ({ signal, err }) {
    // From here every answer says Connection: close, and idle connections are closed (src/plugins/shutdown.ts).
    app.drain()
    // Also after an uncaught error: the balancer moves the traffic away before connections close.
    if (config.shutdownDelayMs > 0) {
      app.log.warn({ signal, delayMs: config.shutdownDelayMs }, 'draining: /readyz answers 503, requests are still served')
      await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs))
    }
    app.log.warn({ signal, err, deadlineMs: config.shutdownTimeoutMs }, 'shutting down: no new connections, running downloads may finish')
    // The process exits as soon as the last answer ends: no connection is left idle until then.
    const deadline = setTimeout(() => {
      const running = app.answersRunning()
      if (running > 0) app.log.warn({ running }, `shutdown deadline reached: cutting the ${running} downloads still running`)
      app.server.closeAllConnections()
    }, config.shutdownTimeoutMs)
    await app.close()
    clearTimeout(deadline)
  })

  if (envFile !== undefined) app.log.info({ file: envFile }, 'settings read from the environment and this file (the environment wins)')
  for (const warning of config.warnings) app.log.warn(warning)
  if (unchecked !== undefined) app.log.warn({ reason: unchecked }, 'the games table could not be checked at start (the reason says why); the first lookup or readiness check does it')
  await listenOrFail(app, 'PORT', config.port, config.host)
  if (metricsApp !== undefined) await listenOrFail(metricsApp, 'METRICS_PORT', config.metricsPort as number, config.metricsHost)
  backends.announce(app)
}

/**
 * The games table and its columns, as the settings name them: when the
 * database answers, a missing or wrongly typed one stops the start, named.
 * A database that does not answer stops nothing (an outage must not keep
 * instances from starting): what happened is returned, for the log.
 */
async function checkGamesTable (games: GamesRepository, timeoutMs: number): Promise<string | undefined> {
  const [{ GamesTableError }, { classifyDatabaseError }] = await Promise.all([import('./db/games-table.js'), import('./db/database-errors.js')])
  try {
    await games.probe(timeoutMs)
    return undefined
  } catch (error) {
    if (error instanceof GamesTableError) fail(error.message)
    return classifyDatabaseError(error).detail
  }
}

/** What a failure to listen means, by its code. */
const LISTEN_FAILURES = new Map<string | undefined, (host: string) => string>([
  ['EADDRINUSE', () => 'the port is in use by another process (EADDRINUSE)'],
  ['EADDRNOTAVAIL', (host) => `${host} is not an address of this machine (EADDRNOTAVAIL)`],
  /* c8 ignore next: the tests run as root, who may listen on any port */
  ['EACCES', () => 'not allowed to listen there (EACCES; ports below 1024 need privileges)']
])

/** A port that cannot be had is a setting to fix, like a bad value: said so, and exit 1. */
async function listenOrFail (app: { listen: (options: { port: number, host: string }) => Promise<string> }, setting: string, port: number, host: string): Promise<void> {
  try {
    await app.listen({ port, host })
  } catch (error) {
    const explain = LISTEN_FAILURES.get((error as NodeJS.ErrnoException).code)
    /* c8 ignore next: other failures to listen are not known to happen */
    const reason = explain === undefined ? (error as Error).message : explain(host)
    fail(`${setting}=${port} on ${host}: ${reason}`)
  }
}

/** close-with-grace's own messages ("second SIGTERM, exiting") as JSON lines of the service's log. */
function jsonLines (log: { error: (details: object, message: string) => void }): { error: (message: unknown) => void } {
  return {
    // A message, or the error that stopped a shutdown (serialized with its stack).
    error: (message) => { log.error({ err: message }, String(message)) }
  }
}

function fail (reason: string): never {
  process.stderr.write(`replay-gate cannot start: ${reason}\n`)
  process.exit(1)
}

await main()
