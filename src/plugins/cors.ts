// CORS for the origins in CORS_ORIGINS, so that a page on another origin can
// fetch the service and follow its redirect. Not registered without origins.
import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
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
  'X-Replay-Delivery', 'Content-Disposition', 'Content-Length', 'Content-Range', 'Accept-Ranges', 'ETag', 'Last-Modified',
  'Retry-After', 'WWW-Authenticate', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'
]

async function corsPlugin (fastify: FastifyInstance, { origins, credentials }: CorsOptions): Promise<void> {
  checkOption(NAME, 'origins', origins === '*' || (Array.isArray(origins) && origins.length > 0), '"*" or a list of origins')
  await fastify.register(cors, {
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
    fastify.addHook('onSend', async function credentialsOnlyForAllowedOrigins (_request, reply, payload) {
      if (!reply.hasHeader('access-control-allow-origin')) reply.removeHeader('access-control-allow-credentials')
      return payload
    })
  }
}

export default fp(corsPlugin, { name: NAME, fastify: '5.x' })
