// The redirect benchmark's yardsticks: a constant 302 with the service's own
// response headers (Location, Cache-Control, security and CORS headers), with
// nothing looked up or signed. YARDSTICK=node answers from node:http itself,
// YARDSTICK=fastify from a Fastify route; YARDSTICK_HEADERS is the JSON of the
// headers; PORT and HOST as for the service.
import Fastify from 'fastify'
import { createServer } from 'node:http'

const headers = JSON.parse(process.env.YARDSTICK_HEADERS ?? '{}')
const port = Number(process.env.PORT)
const host = process.env.HOST ?? '127.0.0.1'
const health = JSON.stringify({ status: 'ok' })

if (process.env.YARDSTICK === 'node') {
  const server = createServer((request, response) => {
    if (request.url === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(health)
      return
    }
    response.writeHead(302, headers).end()
  })
  // As Fastify sets it: the load generator keeps its connections.
  server.keepAliveTimeout = 72_000
  server.listen(port, host)
} else {
  const app = Fastify({ logger: false })
  app.get('/games/:gameId/replay', (_request, reply) => { reply.code(302).headers(headers).send() })
  app.get('/healthz', (_request, reply) => { reply.send({ status: 'ok' }) })
  await app.listen({ port, host })
}
process.on('SIGTERM', () => process.exit(0))
