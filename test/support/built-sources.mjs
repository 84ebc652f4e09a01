// Loaded into every test process (.taprc node-arg): an import of a module in
// src/ gets its build in dist/ instead, the code that `npm start` runs and
// that the spawned entry points run too. The tests compile only themselves,
// and the coverage of every process maps back to src/ through tsc's source
// maps alike. The suite builds dist/ before it starts (.taprc `before`).
//
// Where Node strips TypeScript's types itself and runs module hooks in the
// thread that imports (Node 24.13 and later), that is all: the hooks below run
// in this thread, and a `.js` specifier that names a `.ts` file gets the `.ts`
// file, as tsc resolves it. Elsewhere (Node 20) tsx compiles the tests (its ESM hooks), and
// the same mapping runs in the hooks thread (built-sources-hooks.mjs). A test
// process then starts without a second thread of hooks to feed: about a
// second of CPU less for each of the suite's processes.
import module from 'node:module'
import { builtInstead, loadBuilt } from './built-sources-map.mjs'

const [major, minor] = process.versions.node.split('.').map(Number)
const syncHooks = typeof module.registerHooks === 'function' && process.features.typescript === 'strip' && (major > 24 || (major === 24 && minor >= 13))

if (syncHooks) {
  module.registerHooks({
    resolve (specifier, context, nextResolve) {
      let resolved
      try {
        resolved = nextResolve(specifier, context)
      } catch (error) {
        if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !/^\.{1,2}\/.*\.js$/.test(specifier)) throw error
        resolved = nextResolve(specifier.replace(/\.js$/, '.ts'), context)
      }
      return builtInstead(resolved)
    },
    load (url, context, nextLoad) {
      return loadBuilt(url) ?? nextLoad(url, context)
    }
  })
} else {
  // Its ESM hooks only: the tests are modules, and what they load from src/ and node_modules is
  // JavaScript (the full `tsx` would also hook every require() of a CommonJS package).
  await import('tsx/esm')
  module.register('./built-sources-hooks.mjs', import.meta.url)
}
