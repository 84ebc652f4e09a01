// The service with a chosen set of layers, for the redirect benchmark's table
// of what each layer costs. It runs the built service's own parts as
// dist/server.js does, configured by the same environment, and BENCH_LAYERS
// (comma-separated) adds the layers that no setting turns off:
//   tracing           the request span (@fastify/otel) and the service's own spans;
//                     exported when OTEL_EXPORTER_OTLP_ENDPOINT is set
//   metrics           request metrics
//   security-headers  the security headers
import { buildApp } from '../dist/app.js'
import { parseConfig } from '../dist/config/index.js'
import { openDatabase } from '../dist/db/database.js'
import { loggerOptions } from '../dist/observability/logging.js'
import { Metrics } from '../dist/observability/metrics.js'
import { startTracing } from '../dist/observability/telemetry.js'
import { tuneHeap } from '../dist/heap-tuning.js'
import { openStorage } from '../dist/storage/open-storage.js'

const layers = new Set((process.env.BENCH_LAYERS ?? '').split(',').filter((layer) => layer !== ''))
tuneHeap()
const config = parseConfig(process.env)
if (config.mode !== 'configured') throw new Error('the layered service needs DATABASE_URL and S3_BUCKET')
const tracing = layers.has('tracing')
const exporting = tracing ? await startTracing(config.telemetry) : undefined
const database = await openDatabase({ postgres: { url: config.databaseUrl, timeoutMs: config.databaseTimeoutMs } })
const storage = openStorage({ ...config, headCache: config.lookupCache })
const app = await buildApp({
  config,
  db: database.db,
  storage,
  closeBackends: async () => { storage.close(); await database.close() },
  logger: loggerOptions(config.logLevel),
  metrics: new Metrics(),
  tracing,
  without: [...(layers.has('metrics') ? [] : ['request-metrics']), ...(layers.has('security-headers') ? [] : ['security-headers'])]
})
await app.listen({ port: config.port, host: config.host })
process.once('SIGTERM', () => {
  app.close().then(() => exporting?.shutdown()).then(() => process.exit(0))
})
