import { runBatch } from '../support/run-batch.mjs'

await runBatch('migrations-profiling-and-deploy')
