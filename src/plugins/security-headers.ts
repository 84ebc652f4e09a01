// Security headers on every answer (helmet), set for an API that serves JSON
// and files, never pages: nothing may be framed, run or sniffed.
import helmet from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

async function securityHeaders (fastify: FastifyInstance): Promise<void> {
  await fastify.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] }
    },
    // Same-site for the operator's routes; the replay routes are meant for other
    // sites and say cross-origin (EMBEDDABLE below).
    crossOriginResourcePolicy: { policy: 'same-site' },
    // Headers for documents only: they say nothing about JSON or a replay file.
    crossOriginOpenerPolicy: false,
    crossOriginEmbedderPolicy: false,
    originAgentCluster: false,
    // TLS ends at the operator's proxy, which owns HSTS for the whole domain.
    strictTransportSecurity: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' }
  })
}

/**
 * The `helmet` route option of the replay routes: pages on other sites use them,
 * also without CORS (a plain <img>, <video> or fetch in no-cors mode of a
 * redirect or of /stream), which a same-site CORP would block.
 */
export const EMBEDDABLE = { crossOriginResourcePolicy: { policy: 'cross-origin' as const } }

export default fp(securityHeaders, { name: 'replay-gate-security-headers', fastify: '5.x' })
