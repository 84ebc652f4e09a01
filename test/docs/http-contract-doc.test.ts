// docs/http-contract.md describes the routes and every error code. This holds
// its tables (and the README's table of routes) to the OpenAPI document the
// service serves and to src/http/error-codes.json, so that a route, a status
// or a code that changes without the documentation fails here.
import t from 'tap'
import codes from '../../src/http/error-codes.json' with { type: 'json' }
import { buildTestApp, seedReplays, testConfig } from '../helper.js'
import { codeSpans, readDocument, tableWithHeader } from './markdown-tables.js'

interface Operation { responses: Record<string, { description: string }> }
interface OpenApiDocument { paths: Record<string, Record<string, Operation>> }

/** `GET /games/{gameId}/replay` for each method of a row: the OpenAPI document's way of writing a path. */
function routesOf (methods: string, path: string): string[] {
  const [pattern] = codeSpans(path)
  return codeSpans(methods).map((method) => `${method} ${(pattern as string).replace(/:([A-Za-z]+)/g, '{$1}')}`)
}

/** The codes an OpenAPI response names: its description reads `CODE: when; CODE: when`. */
function codesOf (description: string): string[] {
  return description.split('; ').map((part) => /^([A-Z][A-Z0-9_]+): /.exec(part)?.[1]).filter((code) => code !== undefined)
}

const contract = readDocument('docs/http-contract.md')
const routeTable = tableWithHeader(contract, ['method', 'path', 'statuses', 'answer'])
const errorTable = tableWithHeader(contract, ['status', 'code', 'when'])
const documentedRoutes = new Map(routeTable.rows.flatMap(([methods, path, statuses]) =>
  routesOf(methods as string, path as string).map((route) => [route, (statuses as string).split(',').map((s) => Number(s.trim()))] as const)))
const documentedCodes = new Map(errorTable.rows.map(([status, code]) => [codeSpans(code as string)[0] as string, Number(status)]))

const { db, bucket } = await seedReplays(t, [])
const app = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage() })
const served = await app.inject({ url: '/openapi.json' })
t.equal(served.statusCode, 200, 'GET /openapi.json answers')
const openapi = served.json<OpenApiDocument>()

function openapiRoutes (): Map<string, number[]> {
  return new Map(Object.entries(openapi.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) =>
    [`${method.toUpperCase()} ${path}`, Object.keys(operation.responses).map(Number).sort((a, b) => a - b)] as const)))
}

t.test('the route table: the OpenAPI document\'s routes, with their statuses, and /openapi.json itself', async (t) => {
  const routes = openapiRoutes()
  t.ok(routes.size >= 10, `the document lists routes (${routes.size})`)
  t.ok(documentedRoutes.has('GET /openapi.json'), 'the document\'s own route is in the table')
  const documented = [...documentedRoutes.keys()].filter((route) => route !== 'GET /openapi.json')
  t.same(documented.filter((route) => !routes.has(route)).sort(), [], 'every route of docs/http-contract.md is in the OpenAPI document')
  t.same([...routes.keys()].filter((route) => !documentedRoutes.has(route)).sort(), [], 'every route of the OpenAPI document is in docs/http-contract.md')
  for (const [route, statuses] of routes) {
    t.same(documentedRoutes.get(route), statuses, `${route}: the statuses the document lists`)
  }
})

t.test('the README\'s table of routes names the same routes', async (t) => {
  const readme = tableWithHeader(readDocument('README.md'), ['method', 'path', 'answer'])
  const routes = readme.rows.flatMap(([methods, path]) => routesOf(methods as string, path as string)).sort()
  t.same(routes, [...documentedRoutes.keys()].sort())
})

t.test('the error table: every code of error-codes.json, once, with its status', async (t) => {
  const table = codes as Record<string, { status: number }>
  t.equal(errorTable.rows.length, documentedCodes.size, 'no code is listed twice')
  t.same([...documentedCodes.keys()].sort(), Object.keys(table).sort(), 'the codes of src/http/error-codes.json')
  for (const [code, status] of documentedCodes) t.equal(status, table[code]?.status, `${code} is ${status}`)
})

t.test('every code the OpenAPI document names is in the error table, under the same status', async (t) => {
  const named = new Set<string>()
  for (const [path, methods] of Object.entries(openapi.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        for (const code of codesOf(response.description)) {
          named.add(code)
          t.equal(documentedCodes.get(code), Number(status), `${method.toUpperCase()} ${path} ${status}: ${code} is documented as ${status}`)
        }
      }
    }
  }
  t.ok(named.size >= 15, `the document names codes (${named.size})`)
  t.ok(named.has('STORAGE_TIMEOUT') && named.has('INVALID_GAME_ID'), 'the codes are read from the descriptions')
})
