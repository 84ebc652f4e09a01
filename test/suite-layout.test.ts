// npm test runs every test file once: in one batch (test/batches/batches.ts)
// or on its own (.taprc's include), never in both, never in none.
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { BATCHES } from './batches/batches.js'

const TEST = new URL('./', import.meta.url)
// Run by npm run test:e2e, not by npm test.
const ELSEWHERE = /^(browser|balancer)\//

const testFiles = readdirSync(TEST, { recursive: true, encoding: 'utf8' })
  .map((file) => file.replaceAll('\\', '/'))
  .filter((file) => file.endsWith('.test.ts') && !file.startsWith('batches/') && !ELSEWHERE.test(file))
  .sort()
const taprc = readFileSync(new URL('../.taprc', import.meta.url), 'utf8')
const included = [...(/^include:\n((?: {2}- .*\n)+)/m.exec(taprc)?.[1] ?? '').matchAll(/- (\S+)/g)].map(([, pattern]) => pattern as string)
const alone = included.filter((pattern) => pattern !== 'test/batches/*.test.ts').map((file) => file.replace(/^test\//, ''))
const batched = Object.values(BATCHES).flat()

t.test('.taprc runs the batches, and names each file it runs alone (no pattern)', async (t) => {
  t.ok(included.includes('test/batches/*.test.ts'))
  for (const file of alone) t.match(file, /^[\w/-]+\.test\.ts$/, file)
})

t.test('every test file is in exactly one batch or runs alone, and each one named exists', async (t) => {
  t.same([...alone, ...batched].sort(), testFiles)
})

t.test('each batch has its test file, and each batch file runs its own batch', async (t) => {
  const batchFiles = readdirSync(new URL('batches/', TEST)).filter((file) => file.endsWith('.test.ts'))
  t.same(batchFiles.map((file) => file.replace(/\.test\.ts$/, '')).sort(), Object.keys(BATCHES).sort())
  for (const name of Object.keys(BATCHES)) {
    t.match(readFileSync(new URL(`batches/${name}.test.ts`, TEST), 'utf8'), `await runBatch('${name}')`, name)
  }
})

t.test('no batched file waits on a test at its top level or changes the environment the process shares', async (t) => {
  for (const file of batched) {
    const source = readFileSync(fileURLToPath(new URL(file, TEST)), 'utf8')
    // Awaiting a test while the batch loads would wait for ever: the tests run once all files are loaded.
    t.notMatch(source, /^await t\.test\(/m, `${file}: no top-level await of a test`)
    t.notMatch(source, /process\.env(\.\w+|\[[^\]]+\])\s*=[^=]|delete process\.env/, `${file}: the environment left as it is`)
  }
})
