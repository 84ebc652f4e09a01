// Run before the suite (npm's `pretest`): builds tap for the plugin list that
// .taprc names, when the installed tap was built for another one (npm ci
// installs it built with tap's defaults).
//
// tap notices the difference itself and rebuilds, but only after its runner
// has read the loaders to start test processes with from the build it found:
// the whole first run after npm ci then starts every test process with the
// loaders of the plugins .taprc leaves out (a mock loader every import passes
// through, a TypeScript compiler), about a sixth more CPU for that run.
// Rebuilt here, before the runner starts, the first run is like the others.
import { TapConfig } from '@tapjs/config'
import { signature } from '@tapjs/test'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const config = await TapConfig.load()
if (config.pluginSignature !== signature) {
  const tapPackage = createRequire(import.meta.url).resolve('tap/package.json')
  const { bin } = JSON.parse(readFileSync(tapPackage, 'utf8'))
  process.stdout.write('# tap is built for other plugins than .taprc names: building it for them first\n')
  execFileSync(process.execPath, [join(dirname(tapPackage), bin.tap), 'build'], { stdio: 'inherit' })
}
