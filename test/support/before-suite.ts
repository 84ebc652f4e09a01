// Run by tap once before the suite (.taprc `before`): says which backends this
// run uses, builds dist/ (spawned entry points run the built code; their
// coverage maps back to src/ through the source maps), and makes the PGlite
// template that every test database is cloned from.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeBackends } from '../helper.js'
import { pgliteTemplate } from './pglite-template.js'

process.stdout.write(`# replay-gate test backends: ${describeBackends()}\n`)
const root = fileURLToPath(new URL('../../', import.meta.url))
// Compiles only when src/ changed since the last build (npm ci's prepare has usually built it).
execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--if-stale'], { cwd: root, stdio: 'inherit' })
// Local mode's tests clone it on the real backends' run as well.
await pgliteTemplate()
