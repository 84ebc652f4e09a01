import { runBatch } from '../support/run-batch.mjs'

await runBatch('faults-and-plugins')
