// What a shutdown looks like to clients and balancers. From the drain on,
// every answer says `Connection: close`, idle kept-alive connections are
// closed, and so is each connection whose answer began before the drain once
// that answer ends: the process can exit as soon as its last answer is done,
// instead of waiting for kept-alive connections to time out. A request that
// still arrives while the service closes (pipelined, or on a connection kept
// alive before the drain) gets the contract's 503 SHUTTING_DOWN, not
// Fastify's bare answer.
import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ShuttingDown } from '../http/errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Shutting down: /readyz answers 503 at once, while requests are still served (SHUTDOWN_DELAY_MS). */
    draining: boolean
    /** Starts the drain: /readyz 503, every answer from now on closes its connection, idle connections are closed. */
    drain: () => void
    /** Answers begun and not yet ended (downloads the deadline would cut). */
    answersRunning: () => number
  }
}

/** Another instance answers at once: the client need not wait long. */
const RETRY_AFTER_SECONDS = '1'

async function shutdown (fastify: FastifyInstance): Promise<void> {
  let closing = false
  let running = 0
  // Answers under way on each connection: one whose last answer ends during the drain is closed.
  const bySocket = new Map<Socket, number>()
  fastify.decorate('draining', false)
  fastify.decorate('drain', function drain () {
    fastify.draining = true
    fastify.server.closeIdleConnections()
  })
  fastify.decorate('answersRunning', () => running)

  fastify.addHook('preClose', async function refuseNewRequests () {
    closing = true
  })
  fastify.addHook('onRequest', async function closeConnectionsWhenDraining (request: FastifyRequest, reply: FastifyReply) {
    const res = reply.raw
    const socket = request.raw.socket
    running++
    bySocket.set(socket, (bySocket.get(socket) ?? 0) + 1)
    res.once('close', function answerEnded () {
      running--
      const left = (bySocket.get(socket) as number) - 1
      if (left > 0) {
        bySocket.set(socket, left)
        return
      }
      bySocket.delete(socket)
      // Begun before the drain, its headers said keep-alive: the connection goes now, not at its idle timeout.
      if (fastify.draining) socket.end()
    })
    // Node then writes `Connection: close` and closes the connection after this answer.
    if (fastify.draining || closing) res.shouldKeepAlive = false
    if (closing) {
      reply.header('Retry-After', RETRY_AFTER_SECONDS)
      throw new ShuttingDown()
    }
  })
}

export default fp(shutdown, { name: 'replay-gate-shutdown', fastify: '5.x' })
