import { spawnSync } from 'node:child_process'
import t from 'tap'
import { HEAP_FLAGS, tuneHeap } from '../src/heap-tuning.js'

t.test('tuneHeap hands V8 each of its flags', async (t) => {
  const set: string[] = []
  tuneHeap((flag) => { set.push(flag) })
  t.same(set, HEAP_FLAGS)
  t.ok(set.includes('--no-allocation-site-pretenuring'))
})

t.test('this Node\'s V8 knows every flag (an unknown one is only reported on stderr, in plain text)', async (t) => {
  for (const flag of HEAP_FLAGS) {
    const run = spawnSync(process.execPath, [flag, '-e', '0'], { encoding: 'utf8' })
    t.equal(run.status, 0, flag)
    t.equal(run.stderr, '', flag)
  }
  // The check above fails for a flag V8 does not know.
  t.equal(spawnSync(process.execPath, ['--no-allocation-site-pretenurin', '-e', '0']).status, 9)
})
