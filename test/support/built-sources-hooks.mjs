// built-sources.mjs's hooks where they run in a thread of their own (Node 20):
// src/ resolves to dist/, a relative `.js` to its `.ts`, and the tests'
// TypeScript loads compiled (built-sources-map.mjs).
import { builtInstead, loadBuilt, loadTypeScript, typeScriptSibling } from './built-sources-map.mjs'

export async function resolve (specifier, context, nextResolve) {
  try {
    return builtInstead(await nextResolve(specifier, context))
  } catch (error) {
    return builtInstead(await nextResolve(typeScriptSibling(specifier, error), context))
  }
}

export async function load (url, context, nextLoad) {
  return loadBuilt(url) ?? loadTypeScript(url) ?? await nextLoad(url, context)
}
