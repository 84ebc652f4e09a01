import { once } from 'node:events'
import t from 'tap'
import { logWarningsAsJson } from '../../src/observability/process-warnings.js'

t.test('a process warning is one JSON line at warn level, not Node\'s plain text', async (t) => {
  const lines: string[] = []
  logWarningsAsJson({ write: (line) => lines.push(line) })
  t.equal(process.listenerCount('warning'), 1, 'Node\'s own printer is gone')
  const emitted = once(process, 'warning')
  process.emitWarning('versions published after the first week\nwill require node >=22.', { type: 'NodeVersionSupportWarning', code: 'EXAMPLE' })
  await emitted
  t.equal(lines.length, 1)
  t.ok(lines[0]?.endsWith('\n'))
  t.match(JSON.parse(lines[0] as string), {
    level: 40,
    pid: process.pid,
    warning: { name: 'NodeVersionSupportWarning', code: 'EXAMPLE' },
    msg: 'versions published after the first week will require node >=22.'
  })
})

t.test('where Node prints no warnings (--no-warnings), none is printed', async (t) => {
  process.removeAllListeners('warning')
  const lines: string[] = []
  logWarningsAsJson({ write: (line) => lines.push(line) })
  t.equal(process.listenerCount('warning'), 0)
})
