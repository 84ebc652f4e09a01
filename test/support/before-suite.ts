// Run by tap once before the suite (.taprc `before`): builds dist/ (spawned
// entry points run the built code, and test processes import src/ as its
// build; coverage maps back to src/ through the source maps), says which
// backends this run uses, compiles the tests where Node cannot run them as
// they are, and makes the PGlite template that every test database is cloned
// from.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compileTests, nodeRunsTypeScript } from './built-sources-map.mjs'

const root = fileURLToPath(new URL('../../', import.meta.url))
// Compiles only when src/ changed since the last build (npm ci's prepare has usually built it).
execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--if-stale'], { cwd: root, stdio: 'inherit' })
// Imported once dist/ is current: they import src/, which resolves to the build, and a
// build older than the sources is refused (test/support/built-sources.mjs).
const [{ describeBackends }, { pgliteTemplate }] = await Promise.all([import('../helper.js'), import('./pglite-template.js')])
process.stdout.write(`# replay-gate test backends: ${describeBackends()}\n`)
// Where the tests load compiled (Node 20), all of them are compiled here, once.
if (!nodeRunsTypeScript) compileTests()
// Local mode's tests clone it on the real backends' run as well.
await pgliteTemplate()
