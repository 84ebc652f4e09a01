// Security headers on every answer, set for an API that serves JSON and files,
// never pages: nothing may be framed, run or sniffed. The values are what
// helmet would send for this policy, written once: helmet's per-request
// middleware chain cost about a quarter of a bare redirect's throughput.
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Other sites may embed or fetch this route's answers without CORS. */
    embeddable?: boolean
  }
}

const COMMON = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0'
  // No HSTS: TLS ends at the operator's proxy, which owns it for the whole domain.
  // No COOP, COEP or Origin-Agent-Cluster: they concern documents, not JSON or a replay file.
}
// Same-site for the operator's routes; the replay routes are meant for other sites.
const SAME_SITE = { ...COMMON, 'cross-origin-resource-policy': 'same-site' }
const CROSS_ORIGIN = { ...COMMON, 'cross-origin-resource-policy': 'cross-origin' }

/**
 * Route config of the replay routes: pages on other sites use them, also
 * without CORS (a plain <img>, <video> or no-cors fetch of a redirect or of
 * /stream), which a same-site Cross-Origin-Resource-Policy would block.
 */
export const EMBEDDABLE = { embeddable: true }

async function securityHeaders (fastify: FastifyInstance): Promise<void> {
  // A callback hook, not an async one: no promise per request.
  fastify.addHook('onRequest', function setSecurityHeaders (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    reply.headers(request.routeOptions.config.embeddable === true ? CROSS_ORIGIN : SAME_SITE)
    done()
  })
}

export default fp(securityHeaders, { name: 'replay-gate-security-headers', fastify: '5.x' })
