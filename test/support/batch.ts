// Runs a batch of test files in this process, or a file that runs alone
// (test/batches/batches.ts), from the place this Node runs them from.
import t from 'tap'
import { ALONE, BATCHES, type BatchName } from '../batches/batches.js'
import { runnable } from './built-sources-map.mjs'

const testModule = (file: string): string => runnable(new URL(`../${file}`, import.meta.url).href)

/**
 * Loads the batch's files one after another inside a first test, which holds
 * the process's root test busy meanwhile: a file's top-level setup (a database,
 * a bucket) may take a while, and a root test left idle in between ends, with
 * the tests of the files not yet loaded still to come. The files' tests queue
 * behind it and run once all are loaded, in order; what a file tears down on
 * the root test is torn down when the batch ends. A file of ALONE is loaded
 * as if tap ran it.
 */
export async function runBatch (name: BatchName): Promise<void> {
  if (name in ALONE) {
    await import(testModule(ALONE[name as keyof typeof ALONE]))
    return
  }
  const files = BATCHES[name as keyof typeof BATCHES]
  // A batch takes as long as its files together: five minutes, not the three that .taprc gives a file.
  t.setTimeout(300_000)
  await t.test(`batch ${name}: ${files.length} test files loaded into one process`, async (t) => {
    for (const file of files) {
      await import(testModule(file))
      t.pass(`test/${file}`)
    }
  })
}
