import { runBatch } from '../support/run-batch.mjs'

await runBatch('telemetry')
