// Runs a batch of test files in this process (test/batches/batches.ts).
import t from 'tap'
import { BATCHES, type BatchName } from '../batches/batches.js'

/**
 * Loads the batch's files one after another inside a first test, which holds
 * the process's root test busy meanwhile: a file's top-level setup (a database,
 * a bucket) may take a while, and a root test left idle in between ends, with
 * the tests of the files not yet loaded still to come. The files' tests queue
 * behind it and run once all are loaded, in order; what a file tears down on
 * the root test is torn down when the batch ends.
 */
export async function runBatch (name: BatchName): Promise<void> {
  const files = BATCHES[name]
  // A batch takes as long as its files together: five minutes, not the three that .taprc gives a file.
  t.setTimeout(300_000)
  await t.test(`batch ${name}: ${files.length} test files loaded into one process`, async (t) => {
    for (const file of files) {
      await import(new URL(`../${file}`, import.meta.url).href)
      t.pass(`test/${file}`)
    }
  })
}
