// Every error and unknown route answers with the contract's JSON (src/http/error-replies.ts).
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { handleError, handleNotFound } from '../http/error-replies.js'

async function errorReplies (fastify: FastifyInstance): Promise<void> {
  fastify.setErrorHandler(handleError)
  fastify.setNotFoundHandler(handleNotFound)
}

export default fp(errorReplies, { name: 'replay-gate-error-replies', fastify: '5.x' })
