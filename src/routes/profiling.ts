// GET /debug/profile and /debug/heap-snapshot: a CPU profile or a heap
// snapshot of the running process, as files for Chrome DevTools. Registered
// on the metrics listener only, and only with PROFILING_ENABLED: a snapshot
// holds every secret in memory, and taking one stops the process for seconds.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { Type } from 'typebox'
import { ProfileInProgress } from '../http/errors.js'
import * as inspectorProfiler from '../observability/profiling.js'

/** Longer, and one request would keep every other profile waiting for minutes. */
export const MAX_PROFILE_SECONDS = 60

/**
 * How long a client may take to read a heap snapshot once it is taken. What
 * it has not read waits in the process's memory, and the next snapshot waits
 * for it: a client that stops reading is cut off after this long.
 */
export const HEAP_SNAPSHOT_DELIVERY_MS = 300_000

export interface ProfilingRouteOptions {
  /** The service's log: who asked for what is logged there at warn. */
  log: FastifyBaseLogger
  /** What takes the profiles: this process's inspector unless told otherwise (tests give a stand-in). */
  profiler?: Profiler
  /** HEAP_SNAPSHOT_DELIVERY_MS unless told otherwise (tests give a shorter one). */
  snapshotDeliveryMs?: number
}

export interface Profiler {
  takeCpuProfile: (seconds: number) => Promise<object>
  writeHeapSnapshot: (write: (chunk: string) => void) => Promise<void>
}

const ProfileQuery = Type.Object({
  seconds: Type.Integer({ minimum: 1, maximum: MAX_PROFILE_SECONDS, default: 10, description: 'How long to sample the CPU' })
})

/**
 * What is being taken now, if anything. Per process, not per app: profiles
 * would blur each other, and a second snapshot would double the pause.
 */
let taking: string | undefined

const profilingRoutes: FastifyPluginAsyncTypebox<ProfilingRouteOptions> = async function profilingRoutes (fastify, { log, profiler = inspectorProfiler, snapshotDeliveryMs = HEAP_SNAPSHOT_DELIVERY_MS }) {
  const { takeCpuProfile, writeHeapSnapshot } = profiler
  /** Takes the profiler for `what`, or refuses while another request has it. */
  function claim (request: FastifyRequest, what: string, details: object): void {
    if (taking !== undefined) throw new ProfileInProgress(taking)
    taking = what
    log.warn({ remoteAddress: request.ip, ...details }, `taking ${what}, asked by ${request.ip}`)
  }

  fastify.get('/debug/profile', { schema: { querystring: ProfileQuery } }, async function serveCpuProfile (request, reply) {
    const { seconds } = request.query
    claim(request, `a CPU profile of ${seconds} s`, { profile: 'cpu', seconds })
    const name = fileName('cpuprofile')
    let profile
    try {
      profile = await takeCpuProfile(seconds)
    } finally {
      taking = undefined
    }
    return await reply
      .header('Content-Disposition', `attachment; filename="${name}"`)
      .header('Cache-Control', 'no-store')
      .type('application/json')
      .send(JSON.stringify(profile))
  })

  fastify.get('/debug/heap-snapshot', async function serveHeapSnapshot (request, reply) {
    claim(request, 'a heap snapshot', { profile: 'heap' })
    // The headers first, then each chunk to the socket as V8 serializes it, so that the
    // snapshot (often larger than the heap it describes) is never assembled as one string.
    // V8 works on the main thread: what the client cannot take at once waits in memory.
    reply.hijack()
    const response = reply.raw
    response.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Disposition': `attachment; filename="${fileName('heapsnapshot')}"`,
      'Cache-Control': 'no-store'
    })
    try {
      await writeHeapSnapshot((chunk) => { response.write(chunk) })
      response.end()
      // Held until the client has the whole file: until then it is in memory, and a second one would add to it.
      await delivered(response, snapshotDeliveryMs)
    } catch (error) {
      // A broken transfer, never a truncated file that looks whole.
      log.error({ err: error }, 'the heap snapshot failed')
      response.destroy()
    } finally {
      taking = undefined
    }
  })
}

/** Resolves once the answer's last byte is handed to the socket; rejects when the client goes away first or takes longer than `ms`. */
async function delivered (response: ServerResponse, ms: number): Promise<void> {
  // Neither stream.finished nor 'finish' alone: on Node 20 a response whose
  // socket failed midway emits 'finish' too. Its socket, destroyed, tells.
  const socket = response.socket as Socket
  // Gone while V8 was still writing: its 'close' has passed already.
  if (socket.destroyed) throw new Error('the client went away before it had the whole heap snapshot')
  await new Promise<void>((resolve, reject) => {
    const settle = (error?: Error): void => {
      clearTimeout(timer)
      response.off('finish', finish)
      response.off('close', gone)
      if (error === undefined) resolve()
      else reject(error)
    }
    const gone = (): void => { settle(new Error('the client went away before it had the whole heap snapshot')) }
    const finish = (): void => { if (socket.destroyed) gone(); else settle() }
    const timer = setTimeout(() => { settle(new Error(`the client did not read the heap snapshot within ${ms / 1000} s of its end`)) }, ms)
    response.once('finish', finish)
    response.once('close', gone)
  })
}

/** replay-gate-2026-11-26T10-15-00Z.cpuprofile: sorts by time, no colons (which some file systems refuse). */
function fileName (extension: string): string {
  return `replay-gate-${new Date().toISOString().slice(0, 19).replaceAll(':', '-')}Z.${extension}`
}

export default profilingRoutes
