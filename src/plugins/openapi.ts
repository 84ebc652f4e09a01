// GET /openapi.json: the OpenAPI document of every route, from their schemas.
import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { SERVICE_VERSION } from '../version.js'

export interface OpenApiOptions {
  /** The replay routes require bearer tokens. */
  bearerAuth: boolean
}

async function openApi (fastify: FastifyInstance, { bearerAuth }: OpenApiOptions): Promise<void> {
  await fastify.register(swagger, {
    // HEAD answers differ from GET's here (headers only): they are listed too.
    exposeHeadRoutes: true,
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'replay-gate',
        version: SERVICE_VERSION,
        description: 'Hands out game replays stored in S3: a presigned 302 redirect, the signed URL as JSON, or the bytes streamed through.'
      },
      // The replay routes' tokens; health and metrics say `security: []`.
      ...(bearerAuth
        ? { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } }, security: [{ bearer: [] }] }
        : {})
    }
  })
  fastify.get('/openapi.json', { schema: { hide: true } }, async function openapi () {
    return fastify.swagger()
  })
}

export default fp(openApi, { name: 'replay-gate-openapi', fastify: '5.x' })
