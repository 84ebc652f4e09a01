// The hooks of built-sources.mjs: src/**/*.ts resolves to dist/**/*.js, which
// is loaded as tsc wrote it (tsx, whose hooks come next, would compile it
// again and replace tsc's source map with its own).
import { readFile } from 'node:fs/promises'

const SRC = new URL('../../src/', import.meta.url).href
const DIST = new URL('../../dist/', import.meta.url).href

export async function resolve (specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context)
  if (!resolved.url.startsWith(SRC) || !resolved.url.endsWith('.ts')) return resolved
  return { ...resolved, url: DIST + resolved.url.slice(SRC.length, -'.ts'.length) + '.js', format: 'module' }
}

export async function load (url, context, nextLoad) {
  if (!url.startsWith(DIST) || !url.endsWith('.js')) return await nextLoad(url, context)
  return { format: 'module', source: await readFile(new URL(url)), shortCircuit: true }
}
