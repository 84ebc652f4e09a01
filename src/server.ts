// The only file that listens: reads the settings, opens the backends, serves,
// and shuts down cleanly on SIGTERM or SIGINT.
import closeWithGrace from 'close-with-grace'
import type { Kysely } from 'kysely'
import { buildApp, buildMetricsApp } from './app.js'
import { parseConfig, redactUrl, type Config } from './config.js'
import { connectPostgres, type Database } from './db/database.js'
import { localBanner, startLocalBackends } from './local/local-mode.js'
import { loggerOptions } from './logging.js'
import { Metrics } from './metrics.js'
import { startTracing } from './telemetry.js'
import { ReplayStorage } from './storage/replay-storage.js'

interface Backends {
  db: Kysely<Database>
  storage: ReplayStorage
  close: () => Promise<void>
  banner?: (serviceUrl: string) => string
}

async function openBackends (config: Config): Promise<Backends> {
  if (config.mode === 'local') {
    const local = await startLocalBackends(config)
    return { ...local, banner: (serviceUrl) => localBanner(serviceUrl, local) }
  }
  const db = connectPostgres({ url: config.databaseUrl as string, timeoutMs: config.databaseTimeoutMs })
  const storage = new ReplayStorage({ s3: config.s3, presignTtlSeconds: config.presignTtlSeconds, presignReuseSeconds: config.presignReuseSeconds })
  return {
    db,
    storage,
    close: async () => {
      storage.close()
      await db.destroy()
    }
  }
}

async function main (): Promise<void> {
  let config: Config
  try {
    config = parseConfig(process.env)
  } catch (error) {
    // parseConfig throws only ConfigError, whose message lists every bad setting.
    fail(`${(error as Error).message}\nSee .env.example for every setting.`)
  }

  let backends: Backends
  try {
    backends = await openBackends(config)
  } catch (error) {
    fail(`its backends did not open: ${(error as Error).message}`)
  }
  // Before the app: @fastify/otel finds the provider when its plugin registers.
  const tracing = startTracing(process.env)
  const metrics = new Metrics()
  const app = await buildApp({ config, db: backends.db, storage: backends.storage, logger: loggerOptions(config.logLevel), metrics })
  const metricsApp = config.metricsPort === undefined ? undefined : await buildMetricsApp(metrics)
  app.addHook('onClose', async function closeBackends () {
    await metricsApp?.close()
    await backends.close()
    await tracing?.shutdown() // sends the spans still waiting
  })

  // Stop accepting, let running downloads finish until SHUTDOWN_TIMEOUT_MS, cut
  // what is left, close the database and S3 clients, exit 0. A second signal
  // exits at once (close-with-grace), as does a close that is stuck past the deadline.
  closeWithGrace({ delay: config.shutdownTimeoutMs + 5000 }, async function shutDown ({ signal, err }) {
    app.log.warn({ signal, err, deadlineMs: config.shutdownTimeoutMs }, 'shutting down: no new connections, running downloads may finish')
    const deadline = setTimeout(() => {
      app.log.warn('shutdown deadline reached: cutting the downloads still running')
      app.server.closeAllConnections()
    }, config.shutdownTimeoutMs)
    await app.close()
    clearTimeout(deadline)
  })

  await app.listen({ port: config.port, host: config.host })
  await metricsApp?.listen({ port: config.metricsPort, host: config.host })
  if (backends.banner !== undefined) {
    process.stdout.write(backends.banner(app.listeningOrigin))
  } else {
    app.log.info({ database: redactUrl(config.databaseUrl as string), bucket: config.s3.bucket, endpoint: config.s3.endpoint, metricsPort: config.metricsPort, auth: config.auth === undefined ? 'off' : 'bearer' }, 'serving replays')
  }
}

function fail (reason: string): never {
  process.stderr.write(`replay-gate cannot start: ${reason}\n`)
  process.exit(1)
}

await main()
