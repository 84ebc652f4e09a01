// Run by tap once before the suite (.taprc `before`): says which backends this
// run uses, builds dist/ (spawned entry points run the built code; their
// coverage maps back to src/ through the source maps), and makes the PGlite
// template that every test database is cloned from.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describeBackends } from '../helper.js'
import { pgliteTemplate } from './pglite-template.js'

process.stdout.write(`# replay-gate test backends: ${describeBackends()}\n`)
const root = fileURLToPath(new URL('../../', import.meta.url))
execFileSync(process.execPath, [fileURLToPath(new URL('node_modules/typescript/bin/tsc', `file://${root}`)), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
// Local mode's tests clone it on the real backends' run as well.
await pgliteTemplate()
