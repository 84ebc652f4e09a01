import { runBatch } from '../support/batch.js'

await runBatch('profiling-and-deploy')
