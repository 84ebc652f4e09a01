// Run by tap before the suite (.taprc `before`): says which backends this run uses.
import { describeBackends } from './helper.js'

process.stdout.write(`# replay-gate test backends: ${describeBackends()}\n`)
