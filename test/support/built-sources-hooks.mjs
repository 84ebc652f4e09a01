// built-sources.mjs's hooks where they run in a thread of their own (Node 20):
// the mapping of src/ to dist/ in built-sources-map.mjs, after tsx's resolution.
import { builtInstead, loadBuilt } from './built-sources-map.mjs'

export async function resolve (specifier, context, nextResolve) {
  return builtInstead(await nextResolve(specifier, context))
}

export async function load (url, context, nextLoad) {
  return loadBuilt(url) ?? await nextLoad(url, context)
}
