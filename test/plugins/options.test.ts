// Plugins refuse bad options when they are registered, naming the plugin and the option.
import Fastify from 'fastify'
import t from 'tap'
import { Metrics } from '../../src/observability/metrics.js'
import backends from '../../src/plugins/backends.js'
import cors from '../../src/plugins/cors.js'
import requestMetrics from '../../src/plugins/request-metrics.js'

const cases: Array<[string, (app: ReturnType<typeof Fastify>) => unknown, RegExp]> = [
  ['backends without a database', async (app) => await app.register(backends, { db: undefined as never, storage: undefined as never }), /^replay-gate-backends: the "db" option must be a Kysely instance$/],
  ['cors with no origins', async (app) => await app.register(cors, { origins: [], credentials: false }), /^replay-gate-cors: the "origins" option must be "\*" or a list of origins$/],
  ['request metrics without a registry', async (app) => await app.register(requestMetrics, { metrics: {} as Metrics }), /^replay-gate-request-metrics: the "metrics" option must be a Metrics$/]
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
