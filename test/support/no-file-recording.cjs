// Preloaded into the test processes (.taprc node-arg; a --require runs before
// any --import): tap's processinfo registers module hooks to record which
// files each test process loads, and on Node 20 module hooks run in a thread
// of their own, every import passing through it and back, about a CPU-second
// a process. Its coverage does not need the record: it takes V8's coverage
// through the inspector and the source maps from Node, and counts a file the
// record missed as it would have. Where hooks run in the importing thread
// (Node 24.13 and later), tap uses those, and this changes nothing.
const Module = require('node:module')

const register = Module.register
if (typeof register === 'function') {
  Module.register = function registerUnlessFileRecording (specifier, ...rest) {
    if (String(specifier).includes('/@tapjs/processinfo/')) return
    return register.call(this, specifier, ...rest)
  }
}
