// Vary lists every request header an answer depends on; several layers add
// theirs (CORS: Origin, auth: Authorization, the replay routes:
// Accept-Encoding), so each one adds to what is there.
import type { FastifyReply } from 'fastify'

export function varyOn (reply: FastifyReply, name: string): void {
  const current = reply.getHeader('vary')
  reply.header('Vary', current === undefined ? name : `${String(current)}, ${name}`)
}
