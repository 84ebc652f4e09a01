// What built-sources.mjs's hooks do, in either thread: src/**/*.ts resolves to
// dist/**/*.js, which is loaded as tsc wrote it (tsx would compile it again and
// replace tsc's source map with its own). A build older than its source is
// refused, never run: scripts/build.mjs stamps dist/.source-hash each time it
// compiles or finds the build current.
import { readFileSync, statSync } from 'node:fs'

const SRC = new URL('../../src/', import.meta.url).href
const DIST = new URL('../../dist/', import.meta.url).href
/** When dist/ was last found current: read at the first import of src/, after the suite's build (before-suite.ts) has run. */
let builtAt

/** A resolution into src/ made a resolution into dist/; any other, as it is. */
export function builtInstead (resolved) {
  if (!resolved.url.startsWith(SRC) || !resolved.url.endsWith('.ts')) return resolved
  const built = new URL(DIST + resolved.url.slice(SRC.length, -'.ts'.length) + '.js')
  builtAt ??= statSync(new URL('.source-hash', DIST), { throwIfNoEntry: false })?.mtimeMs ?? 0
  if (builtAt < statSync(new URL(resolved.url)).mtimeMs) {
    throw new Error(`dist/ was built before ${resolved.url.slice(SRC.length - 4)} changed: run the tests through tap (it builds first), or npm run build`)
  }
  return { ...resolved, url: built.href, format: 'module' }
}

/** dist/'s modules as tsc wrote them; undefined for any other URL. */
export function loadBuilt (url) {
  if (!url.startsWith(DIST) || !url.endsWith('.js')) return undefined
  return { format: 'module', source: readFileSync(new URL(url)), shortCircuit: true }
}
