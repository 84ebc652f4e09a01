// Loaded into every test process (.taprc node-arg): an import of a module in
// src/ gets its build in dist/ instead, the code that `npm start` runs and
// that the spawned entry points run too. The tests compile only themselves,
// and the coverage of every process maps back to src/ through tsc's source
// maps alike. The suite builds dist/ before it starts (.taprc `before`).
//
// Where Node strips TypeScript's types itself and runs module hooks in the
// thread that imports (Node 24.13 and later), the hooks below run in this
// thread, and a `.js` specifier that names a `.ts` file gets the `.ts` file, as
// tsc resolves it. Elsewhere (Node 20) the same hooks run in Node's hooks
// thread (built-sources-hooks.mjs), and load the tests compiled by esbuild,
// once for all processes (built-sources-map.mjs): no compiler starts in a
// test process, nor a second layer of hooks with it. The suite's processes on
// Node 20 need none of it: they run the compiled tests' mirror.
import module from 'node:module'
import { builtInstead, loadBuilt, nodeRunsTypeScript, typeScriptSibling } from './built-sources-map.mjs'

if (nodeRunsTypeScript) {
  module.registerHooks({
    resolve (specifier, context, nextResolve) {
      try {
        return builtInstead(nextResolve(specifier, context))
      } catch (error) {
        return builtInstead(nextResolve(typeScriptSibling(specifier, error), context))
      }
    },
    load (url, context, nextLoad) {
      return loadBuilt(url) ?? nextLoad(url, context)
    }
  })
} else if (!process.argv[1]?.endsWith('.mjs')) {
  // A test file run on its own, or the suite's `before`. The suite's own files
  // (test/batches/*.test.mjs) load the tests from their compiled mirror
  // instead (built-sources-map.mjs), with no hooks and no thread for them.
  module.register('./built-sources-hooks.mjs', import.meta.url)
}
