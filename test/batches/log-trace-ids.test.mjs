import { runBatch } from '../support/run-batch.mjs'

await runBatch('log-trace-ids')
