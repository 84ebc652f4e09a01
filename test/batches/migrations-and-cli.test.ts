import { runBatch } from '../support/batch.js'

await runBatch('migrations-and-cli')
