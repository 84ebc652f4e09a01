// GET /debug/profile and /debug/heap-snapshot: a CPU profile or a heap
// snapshot of the running process, as files for Chrome DevTools. Registered
// on the metrics listener only, and only with PROFILING_ENABLED: a snapshot
// holds every secret in memory, and taking one stops the process for seconds.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { ProfileInProgress } from '../http/errors.js'
import * as inspectorProfiler from '../observability/profiling.js'

/** Longer, and one request would keep every other profile waiting for minutes. */
export const MAX_PROFILE_SECONDS = 60

export interface ProfilingRouteOptions {
  /** The service's log: who asked for what is logged there at warn. */
  log: FastifyBaseLogger
  /** What takes the profiles: this process's inspector unless told otherwise (tests give a stand-in). */
  profiler?: Profiler
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

const profilingRoutes: FastifyPluginAsyncTypebox<ProfilingRouteOptions> = async function profilingRoutes (fastify, { log, profiler = inspectorProfiler }) {
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
    } catch (error) {
      // A broken transfer, never a truncated file that looks whole.
      log.error({ err: error }, 'the heap snapshot failed')
      response.destroy()
    } finally {
      taking = undefined
    }
  })
}

/** replay-gate-2026-11-26T10-15-00Z.cpuprofile: sorts by time, no colons (which some file systems refuse). */
function fileName (extension: string): string {
  return `replay-gate-${new Date().toISOString().slice(0, 19).replaceAll(':', '-')}Z.${extension}`
}

export default profilingRoutes
