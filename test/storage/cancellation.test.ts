import t from 'tap'
import { EventEmitter } from 'node:events'
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Cancellation, closedWith } from '../../src/storage/cancellation.js'

t.test('abort: once, with an AbortError unless given a reason; listeners and onabort are told', async (t) => {
  const signal = new Cancellation()
  t.equal(signal.aborted, false)
  t.doesNotThrow(() => { signal.throwIfAborted() })
  const told: string[] = []
  signal.onabort = () => told.push('onabort')
  signal.addEventListener('abort', () => told.push('listener'), { once: true })
  signal.abort()
  signal.abort(new Error('a second reason'))
  t.same(told, ['onabort', 'listener'], 'told once')
  t.equal(signal.aborted, true)
  t.match(signal.reason, { name: 'AbortError' })
  t.throws(() => { signal.throwIfAborted() }, { name: 'AbortError' })
  const given = new Error('deadline')
  const other = new Cancellation()
  other.abort(given)
  t.equal(other.reason, given)
  t.throws(() => { other.throwIfAborted() }, given)
})

t.test('closedWith: aborted when the request closes', async (t) => {
  const request = new EventEmitter()
  const closed = closedWith(request)
  t.equal(closed.aborted, false)
  request.emit('close')
  t.equal(closed.aborted, true)
})

t.test('a young collection frees a signal and what its listeners reached', async (t) => {
  // The reason it is not an AbortSignal: on Node 20 a young collection keeps every
  // AbortSignal, and all it reaches, until a full collection.
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void
  const oldSpace = (): number => getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')?.space_used_size ?? 0
  const promoted = (make: () => void): number => {
    gc()
    const before = oldSpace()
    for (let i = 0; i < 5000; i++) make()
    gc({ type: 'minor' })
    gc({ type: 'minor' })
    return oldSpace() - before
  }
  const payload = (): object[] => Array.from({ length: 16 }, (_, i) => ({ i }))
  const plain = promoted(() => { payload() })
  const signals = promoted(() => {
    const signal = new Cancellation()
    const reached = payload()
    const listener = (): unknown => reached
    signal.addEventListener('abort', listener, { once: true })
    signal.removeEventListener('abort', listener)
  })
  // Kept, 5,000 signals and their payloads would be about 5 MiB.
  t.ok(signals - plain < 1024 * 1024, `promoted ${Math.round((signals - plain) / 1024)} KiB more than plain objects`)
})
