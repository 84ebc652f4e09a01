// What each test/batches/<name>.test.mjs runs: the batch runner (batch.ts),
// from the compiled mirror on Node 20, which then needs no module hooks
// (built-sources-map.mjs), as TypeScript where Node runs it itself.
import { runnable } from './built-sources-map.mjs'

export async function runBatch (name) {
  const batch = await import(runnable(new URL('./batch.ts', import.meta.url).href))
  await batch.runBatch(name)
}
