// CPU profiles and heap snapshots of this very process, through an inspector
// session of its own (node:inspector): nothing to install, no restart, no
// debugger port opened. The routes of src/routes/profiling.ts hand them out.
import type { Profiler } from 'node:inspector'
import { Session } from 'node:inspector/promises'
import { setTimeout as sleep } from 'node:timers/promises'

let session: Session | undefined

/**
 * One session for the life of the process, connected on first use. Never
 * disconnected: that disables its profiler, and V8 then also drops precise
 * code coverage to best effort for the whole process, which would spoil the
 * coverage of a process whose coverage is taken (as the tests take it).
 */
function inspectorSession (): Session {
  if (session === undefined) {
    session = new Session()
    session.connect()
  }
  return session
}

/** Samples the CPU for `seconds` while the process goes on serving; Chrome DevTools' .cpuprofile format. */
export async function takeCpuProfile (seconds: number): Promise<Profiler.Profile> {
  const inspector = inspectorSession()
  await inspector.post('Profiler.enable')
  await inspector.post('Profiler.start')
  await sleep(seconds * 1000)
  const { profile } = await inspector.post('Profiler.stop')
  return profile
}

/**
 * Hands the snapshot's JSON to `write` chunk by chunk as V8 serializes it,
 * so that no copy of the whole is built in the JavaScript heap. V8 takes it
 * on the main thread: the process does nothing else until it is done.
 */
export async function writeHeapSnapshot (write: (chunk: string) => void): Promise<void> {
  const inspector = inspectorSession()
  const passChunk = (message: { params: { chunk: string } }): void => { write(message.params.chunk) }
  inspector.on('HeapProfiler.addHeapSnapshotChunk', passChunk)
  try {
    await inspector.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false })
  } finally {
    inspector.removeListener('HeapProfiler.addHeapSnapshotChunk', passChunk)
  }
}
