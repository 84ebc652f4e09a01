import { runBatch } from '../support/run-batch.mjs'

await runBatch('commands-and-deploy')
