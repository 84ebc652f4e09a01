import t from 'tap'
import { loggerOptions } from '../../src/observability/logging.js'
import { requestIdOf } from '../../src/plugins/request-log.js'
import { buildTestApp, seedReplays, testConfig } from '../helper.js'
import type { IncomingMessage } from 'node:http'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/

const { db, bucket } = await seedReplays(t, [{ id: '7', game_folder: 'g', replay_file: 'seven.fafreplay', body: 'bytes' }])

async function appLogging (level: 'info' | 'debug'): Promise<{ app: Awaited<ReturnType<typeof buildTestApp>>, lines: () => Array<Record<string, unknown>> }> {
  const written: string[] = []
  const app = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage(), logger: loggerOptions(level, { write: (line) => written.push(line) }) })
  // Every line is JSON: parsing one that is not fails the test.
  return { app, lines: () => written.map((line) => JSON.parse(line) as Record<string, unknown>) }
}

t.test('one line per request at info, with what an operator looks for', async (t) => {
  const { app, lines } = await appLogging('info')
  const res = await app.inject({ url: '/games/7/replay', headers: { 'x-request-id': 'edge-4f1c2a' } })
  t.equal(res.statusCode, 302)
  t.equal(res.headers['x-request-id'], 'edge-4f1c2a', 'the client\'s id is echoed')
  const requestLines = lines().filter((line) => line.msg === 'request')
  t.equal(requestLines.length, 1, 'one line')
  t.equal(lines().length, 1, 'and no other (no "incoming request", no "request completed")')
  t.match(requestLines[0], { level: 30, reqId: 'edge-4f1c2a', method: 'GET', route: '/games/:gameId/replay', status: 302, gameId: '7', durationMs: Number })
})

t.test('the request line is the line pino itself writes for the same fields', async (t) => {
  const written: string[] = []
  const app = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage(), logger: loggerOptions('info', { write: (line) => written.push(line) }) })
  for (const url of ['/games/7/replay', '/games/%22q%5C%0A/replay', '/nowhere']) {
    written.length = 0
    await app.inject({ url, headers: { 'x-request-id': 'edge-77' } })
    t.equal(written.length, 1, url)
    const ours = JSON.parse(written[0] as string) as Record<string, unknown>
    // Written by pino from the same fields in the order the line documents, with the same bound request id.
    const { reqId, method, route, status, gameId, durationMs } = ours
    app.log.child({ reqId }).info({ method, route, status, gameId, durationMs }, 'request')
    const theirs = JSON.parse(written[1] as string) as Record<string, unknown>
    t.equal(written[0], (written[1] as string).replace(`"time":${theirs.time as number}`, `"time":${ours.time as number}`), `${url}: the same text, field for field`)
  }
})

t.test('errors and unknown paths have their line too, with a request id of the service\'s own', async (t) => {
  const { app, lines } = await appLogging('info')
  const bad = await app.inject({ url: '/games/x/replay' })
  t.equal(bad.statusCode, 400)
  t.match(bad.headers['x-request-id'], UUID, 'no id given: a new UUID')
  const missing = await app.inject({ url: '/nowhere' })
  t.equal(missing.statusCode, 404)
  t.match(lines(), [
    { msg: 'request', status: 400, route: '/games/:gameId/replay', gameId: 'x', reqId: bad.headers['x-request-id'] },
    { msg: 'request', status: 404, route: null, reqId: missing.headers['x-request-id'] }
  ])
})

t.test('an X-Request-Id that is too long or not plain is replaced', async (t) => {
  const { app } = await appLogging('info')
  for (const given of ['a'.repeat(129), 'has space', 'quote"d', 'line\u0085break', '']) {
    const res = await app.inject({ url: '/healthz', headers: { 'x-request-id': given } })
    t.match(res.headers['x-request-id'], UUID, JSON.stringify(given).slice(0, 20))
  }
  const longest = 'A-z_0.9:/+=@'.padEnd(128, 'x')
  t.equal((await app.inject({ url: '/healthz', headers: { 'x-request-id': longest } })).headers['x-request-id'], longest, '128 plain characters are kept')
  t.match(requestIdOf({ headers: { 'x-request-id': ['a', 'b'] } } as unknown as IncomingMessage), UUID, 'a repeated header is not an id')
})

t.test('probes are logged at debug only', async (t) => {
  const quiet = await appLogging('info')
  for (const url of ['/healthz', '/readyz', '/metrics']) await quiet.app.inject({ url })
  t.same(quiet.lines().filter((line) => line.msg === 'request'), [], 'nothing at info')
  const chatty = await appLogging('debug')
  for (const url of ['/healthz', '/readyz', '/metrics']) await chatty.app.inject({ url })
  t.match(chatty.lines().filter((line) => line.msg === 'request'), [
    { level: 20, route: '/healthz', status: 200 }, { level: 20, route: '/readyz' }, { level: 20, route: '/metrics', status: 200 }
  ])
})
