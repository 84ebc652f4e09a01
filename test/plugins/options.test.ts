// Plugins refuse bad options when they are registered, naming the plugin and the option.
import Fastify from 'fastify'
import t from 'tap'
import { Metrics } from '../../src/observability/metrics.js'
import bearerAuth from '../../src/plugins/bearer-auth.js'
import cors from '../../src/plugins/cors.js'
import forwardedForCheck from '../../src/plugins/forwarded-for-check.js'
import loadShedding from '../../src/plugins/load-shedding.js'
import requestMetrics from '../../src/plugins/request-metrics.js'
import streamRateLimit from '../../src/plugins/stream-rate-limit.js'
import healthRoutes from '../../src/routes/health.js'
import replayStreamRoutes from '../../src/routes/replay-stream.js'
import replayRoutes from '../../src/routes/replay.js'

const cases: Array<[string, (app: ReturnType<typeof Fastify>) => unknown, RegExp]> = [
  ['readiness without the games table', async (app) => await app.register(healthRoutes, { games: undefined as never, storage: undefined as never, checkTimeoutMs: 1000 }),
    /^replay-gate-health-routes: the "games" option must be a GamesRepository$/],
  ['the redirect without a signer', async (app) => await app.register(replayRoutes, { locator: { locate: () => {} } as never, urls: {} as never, storage: undefined as never, metrics: new Metrics({ processMetrics: false }), publicBaseUrl: undefined }),
    /^replay-gate-replay-routes: the "urls" option must be a ReplayUrls$/],
  ['the stream without a storage', async (app) => await app.register(replayStreamRoutes, { locator: { locate: () => {} } as never, storage: {} as never, metrics: new Metrics({ processMetrics: false }), rateLimit: undefined as never, concurrency: undefined as never, trustsProxy: false }),
    /^replay-gate-replay-stream-routes: the "storage" option must be a ReplayStorage$/],
  ['the X-Forwarded-For check without TRUST_PROXY', async (app) => await app.register(forwardedForCheck, { trustProxy: false as never }),
    /^replay-gate-forwarded-for-check: the "trustProxy" option must be a number of hops or a list of addresses$/],
  ['cors with no origins', async (app) => await app.register(cors, { origins: [], credentials: false }), /^replay-gate-cors: the "origins" option must be "\*" or a list of origins$/],
  ['request metrics without a registry', async (app) => await app.register(requestMetrics, { metrics: {} as Metrics }), /^replay-gate-request-metrics: the "metrics" option must be a Metrics$/],
  ['a rate limit without a number', async (app) => await app.register(streamRateLimit, { limit: { max: '60' } as never, metrics: new Metrics({ processMetrics: false }) }),
    /^replay-gate-stream-rate-limit: the "limit" option must be a rate limit/],
  ['load shedding without its thresholds', async (app) => await app.register(loadShedding, { pressure: undefined as never, metrics: new Metrics({ processMetrics: false }) }),
    /^replay-gate-load-shedding: the "pressure" option must be the load-shedding thresholds$/],
  ['bearer auth with both a key set and a secret', async (app) => await app.register(bearerAuth, {
    auth: { jwksUrl: 'https://id.example/jwks', secret: 'x'.repeat(32), issuer: undefined, audience: undefined, clockToleranceSeconds: 0 },
    metrics: new Metrics({ processMetrics: false })
  }), /^replay-gate-bearer-auth: the "auth" option must be settings with either a JWKS URL or a secret$/]
]

for (const [name, register, message] of cases) {
  t.test(name, async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await register(app); await app.ready() }, { name: 'TypeError', message })
  })
}

t.test('good options register', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(cors, { origins: '*', credentials: false })
  await app.register(requestMetrics, { metrics: new Metrics({ processMetrics: false }) })
  await app.ready()
  t.equal(app.hasPlugin('replay-gate-cors'), true)
})
