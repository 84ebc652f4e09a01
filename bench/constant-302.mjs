// The yardstick of the redirect benchmark: Fastify answering a constant 302,
// with nothing to look up and nothing to sign. Usage: node constant-302.mjs PORT LOCATION
import Fastify from 'fastify'

const [port, location] = process.argv.slice(2)
const app = Fastify({ logger: false })
app.get('/games/:gameId/replay', async (request, reply) => reply.header('Cache-Control', 'private, max-age=210').redirect(location, 302))
app.get('/healthz', async () => ({ status: 'ok' }))
await app.listen({ port: Number(port), host: '127.0.0.1' })
