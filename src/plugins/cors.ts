// CORS for the origins in CORS_ORIGINS, so that a page on another origin can
// fetch the service and follow its redirect. Not registered without origins.
// @fastify/cors answers the preflights (OPTIONS), and runs for them alone. On
// every other request the headers come from a hook of our own, worked out
// once: @fastify/cors copies its whole options object for each request, which
// on the redirect cost more than the rest of the route's own work.
import cors from '@fastify/cors'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { checkOption } from './options.js'

export interface CorsOptions {
  /** `'*'` or exact origins. */
  origins: '*' | string[]
  /** Answer credentialed requests from the named origins. */
  credentials: boolean
}

const NAME = 'replay-gate-cors'

/** What a page may read of an answer: the download's headers, the limits' and the challenge's. */
const EXPOSED_HEADERS = [
  'X-Replay-Delivery', 'Content-Disposition', 'Content-Encoding', 'Content-Length', 'Content-Range', 'Accept-Ranges', 'ETag', 'Last-Modified',
  'Retry-After', 'WWW-Authenticate', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'X-Request-Id'
  // Joined once: given a list, @fastify/cors joins it again on every request.
].join(', ')

async function corsPlugin (fastify: FastifyInstance, { origins, credentials }: CorsOptions): Promise<void> {
  checkOption(NAME, 'origins', origins === '*' || (Array.isArray(origins) && origins.length > 0), '"*" or a list of origins')
  // The preflights (OPTIONS) are @fastify/cors's, in a context of their own: its hook then runs
  // for them alone. Every other answer gets its CORS headers from the hook below.
  await fastify.register(async function preflights (scope) {
    await scope.register(cors, {
      origin: origins,
      credentials,
      methods: ['GET', 'HEAD'],
      // An OPTIONS without Access-Control-Request-Method would get a plain-text 400; answer it like a preflight.
      strictPreflight: false,
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600
    })
    if (credentials) {
      // @fastify/cors says "credentials: true" to every origin; only an allowed one should hear it.
      scope.addHook('onSend', async function credentialsOnlyForAllowedOrigins (_request, reply, payload) {
        if (!reply.hasHeader('access-control-allow-origin')) reply.removeHeader('access-control-allow-credentials')
        return payload
      })
    }
  })
  const allowed = origins === '*' ? undefined : new Set(origins)
  fastify.addHook('onRequest', function addCorsHeaders (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    const origin = request.headers.origin
    if (allowed === undefined) {
      reply.header('access-control-allow-origin', '*').header('access-control-expose-headers', EXPOSED_HEADERS)
    } else {
      // The answer depends on the Origin: caches must keep one per origin.
      reply.header('vary', 'Origin')
      if (origin !== undefined && allowed.has(origin)) {
        reply.header('access-control-allow-origin', origin).header('access-control-expose-headers', EXPOSED_HEADERS)
        if (credentials) reply.header('access-control-allow-credentials', 'true')
      }
    }
    done()
  })
}

export default fp(corsPlugin, { name: NAME, fastify: '5.x' })
