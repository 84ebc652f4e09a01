// Preloaded into the entry points the tests spawn (spawn-service.ts), when
// tap takes coverage: V8's precise coverage of the process, taken at its exit
// and kept for the project's build (dist/) alone, into the folder that tap's
// report reads, in the format it reads (c8's; the source maps are read from
// beside the build). NODE_V8_COVERAGE would do the same for every script the
// process ran, with the source maps of all of them, packages' included: about
// 8 MB a process, each read again by the report, and every source map parsed
// as its module loads.
import { mkdirSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'

const folder = process.env._REPLAY_GATE_TEST_COVERAGE_
const DIST = new URL('../../dist/', import.meta.url).href

if (folder !== undefined && folder !== '') {
  const session = new Session()
  session.connect()
  session.post('Profiler.enable')
  session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true })
  // Taken after every 'exit' listener has run, the entry point's own included (its last log line):
  // a listener of this module's would run first, before the code in theirs.
  const emit = process.emit
  process.emit = function emitThenTakeCoverage (event, ...args) {
    const result = emit.call(this, event, ...args)
    if (event === 'exit') writeCoverage()
    return result
  }
  function writeCoverage () {
    // In-process, the inspector answers at once: this runs before the process ends.
    session.post('Profiler.takePreciseCoverage', (error, coverage) => {
      if (error !== null) throw error
      const result = coverage.result.filter((script) => script.url.startsWith(DIST))
      if (result.length === 0) return
      mkdirSync(folder, { recursive: true })
      writeFileSync(`${folder}/coverage-${process.pid}-${Date.now()}-entry.json`, JSON.stringify({ result }))
    })
  }
}
