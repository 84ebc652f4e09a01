import t from 'tap'
import { buildTestApp, seedReplays, testConfig } from './helper.js'
import { closedPort } from './support/silent-server.js'

interface Operation { responses: Record<string, { description: string, content?: Record<string, { schema: { title?: string, required?: string[] } }> }> }
type Document = { openapi: string, info: { title: string, version: string }, paths: Record<string, Record<string, Operation>> }

// The contract: every route, method and status it may answer.
const CONTRACT: Array<[string, string, number[]]> = [
  ['/games/{gameId}/replay', 'get', [302, 400, 401, 404, 500, 503]],
  ['/games/{gameId}/replay', 'head', [200, 400, 401, 404, 500, 502, 503, 504]],
  ['/games/{gameId}/replay/url', 'get', [200, 400, 401, 404, 500, 503]],
  ['/games/{gameId}/replay/url', 'head', [200, 400, 401, 404, 500, 503]],
  ['/games/{gameId}/replay/stream', 'get', [200, 206, 304, 400, 401, 404, 412, 416, 429, 500, 502, 503, 504]],
  ['/games/{gameId}/replay/stream', 'head', [200, 206, 304, 400, 401, 404, 412, 416, 429, 500, 502, 503, 504]],
  ['/healthz', 'get', [200]],
  ['/healthz', 'head', [200]],
  ['/readyz', 'get', [200, 503]],
  ['/readyz', 'head', [200, 503]],
  ['/metrics', 'get', [200]],
  ['/metrics', 'head', [200]]
]

t.test('/openapi.json documents every route with every status, errors with the error schema', async (t) => {
  const { db, bucket } = await seedReplays(t, [])
  const app = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage() })
  const res = await app.inject({ url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  const doc = res.json<Document>()
  t.equal(doc.openapi, '3.1.0')
  t.match(doc.info, { title: 'replay-gate', version: /^\d+\.\d+\.\d+$/ })

  const documented = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`)).sort()
  t.same(documented, CONTRACT.map(([path, method]) => `${method.toUpperCase()} ${path}`).sort(), 'exactly the contract\'s routes')
  for (const [path, method, statuses] of CONTRACT) {
    const operation = doc.paths[path]?.[method] as Operation
    t.same(Object.keys(operation.responses).map(Number).sort((a, b) => a - b), statuses, `${method.toUpperCase()} ${path}: every status`)
    for (const [status, response] of Object.entries(operation.responses)) {
      t.not(response.description, 'Default Response', `${method} ${path} ${status} is described`)
      if (Number(status) >= 400 && path.startsWith('/games/')) {
        t.match(response.content?.['application/json']?.schema, { title: 'Error', required: ['statusCode', 'code', 'error', 'message'] }, `${method} ${path} ${status}`)
      }
    }
  }
})

t.test('what the routes answer is what the document says', async (t) => {
  const { db, bucket } = await seedReplays(t, [
    { id: '1', game_folder: 'g', replay_file: 'r.rep', body: 'replay' },
    { id: '2', game_folder: 'g', replay_file: 'gone.rep' }
  ])
  const app = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage() })
  const unreachable = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage({ s3: { endpoint: `http://127.0.0.1:${await closedPort()}` } }) })
  const doc = (await app.inject({ url: '/openapi.json' })).json<Document>()
  const requests: Array<[typeof app, 'GET' | 'HEAD', string, string, Record<string, string>?]> = [
    [app, 'GET', '/games/1/replay', '/games/{gameId}/replay'],
    [app, 'HEAD', '/games/1/replay', '/games/{gameId}/replay'],
    [app, 'GET', '/games/x/replay', '/games/{gameId}/replay'],
    [app, 'GET', '/games/9/replay/url', '/games/{gameId}/replay/url'],
    [app, 'GET', '/games/1/replay/url', '/games/{gameId}/replay/url'],
    [app, 'GET', '/games/1/replay/stream', '/games/{gameId}/replay/stream'],
    [app, 'GET', '/games/1/replay/stream', '/games/{gameId}/replay/stream', { range: 'bytes=0-1' }],
    [app, 'GET', '/games/1/replay/stream', '/games/{gameId}/replay/stream', { range: 'bytes=100-' }],
    [app, 'GET', '/games/2/replay/stream', '/games/{gameId}/replay/stream'],
    [unreachable, 'GET', '/games/1/replay/stream', '/games/{gameId}/replay/stream'],
    [app, 'GET', '/healthz', '/healthz'],
    [app, 'GET', '/readyz', '/readyz'],
    [app, 'GET', '/metrics', '/metrics']
  ]
  const seen = new Set<number>()
  for (const [target, method, url, path, headers] of requests) {
    const res = await target.inject({ method, url, headers })
    seen.add(res.statusCode)
    const documented = doc.paths[path]?.[method.toLowerCase()]?.responses[String(res.statusCode)]
    t.ok(documented, `${method} ${url} answered ${res.statusCode}, which the document lists`)
    if (res.statusCode >= 400 && method === 'GET') {
      const required = documented?.content?.['application/json']?.schema.required ?? []
      t.same(Object.keys(res.json()).sort(), [...required].sort(), `${method} ${url}: the body has the documented fields`)
    }
  }
  t.same([...seen].sort((a, b) => a - b), [200, 206, 302, 400, 404, 416, 502], 'a spread of statuses was tried')
})

t.test('with tokens required, the document says so: a bearer scheme for the replay routes, none for health and metrics', async (t) => {
  const { db, bucket } = await seedReplays(t, [])
  const auth = { jwksUrl: undefined, secret: 'a'.repeat(32), issuer: undefined, audience: undefined, clockToleranceSeconds: 0 }
  const app = await buildTestApp(t, { config: testConfig({ auth }), db, storage: bucket.storage() })
  const doc = (await app.inject({ url: '/openapi.json' })).json<Document & { components: unknown, security: unknown }>()
  t.match(doc.components, { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } })
  t.same(doc.security, [{ bearer: [] }])
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    t.same((doc.paths[path]?.get as unknown as { security: unknown }).security, [], `${path} is open`)
  }
  const open = (await (await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage() })).inject({ url: '/openapi.json' })).json<Record<string, unknown>>()
  t.equal(open.security, undefined, 'no scheme when the routes are open')
})
