import { runBatch } from '../support/batch.js'

await runBatch('commands')
