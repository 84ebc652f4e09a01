// The hooks of built-sources.mjs: src/**/*.ts resolves to dist/**/*.js, which
// is loaded as tsc wrote it (tsx, whose hooks come next, would compile it
// again and replace tsc's source map with its own). A build older than its
// source is refused, never run: scripts/build.mjs stamps dist/.source-hash
// each time it compiles or finds the build current.
import { statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'

const SRC = new URL('../../src/', import.meta.url).href
const DIST = new URL('../../dist/', import.meta.url).href
/** When dist/ was last found current: read at the first import of src/, after the suite's build (before-suite.ts) has run. */
let builtAt

export async function resolve (specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context)
  if (!resolved.url.startsWith(SRC) || !resolved.url.endsWith('.ts')) return resolved
  const built = new URL(DIST + resolved.url.slice(SRC.length, -'.ts'.length) + '.js')
  builtAt ??= statSync(new URL('.source-hash', DIST), { throwIfNoEntry: false })?.mtimeMs ?? 0
  if (builtAt < statSync(new URL(resolved.url)).mtimeMs) {
    throw new Error(`dist/ was built before ${resolved.url.slice(SRC.length - 4)} changed: run the tests through tap (it builds first), or npm run build`)
  }
  return { ...resolved, url: built.href, format: 'module' }
}

export async function load (url, context, nextLoad) {
  if (!url.startsWith(DIST) || !url.endsWith('.js')) return await nextLoad(url, context)
  return { format: 'module', source: await readFile(new URL(url)), shortCircuit: true }
}
