// npm test runs every test file once: in one batch or alone
// (test/batches/batches.ts), never in both, never in none.
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { ALONE, BATCHES } from './batches/batches.js'

const TEST = new URL('./', import.meta.url)
// Run by npm run test:e2e, not by npm test.
const ELSEWHERE = /^(browser|balancer)\//

const testFiles = readdirSync(TEST, { recursive: true, encoding: 'utf8' })
  .map((file) => file.replaceAll('\\', '/'))
  .filter((file) => file.endsWith('.test.ts') && !file.startsWith('batches/') && !ELSEWHERE.test(file))
  .sort()
const taprc = readFileSync(new URL('../.taprc', import.meta.url), 'utf8')
const included = [...(/^include:\n((?: {2}- .*\n)+)/m.exec(taprc)?.[1] ?? '').matchAll(/- (\S+)/g)].map(([, pattern]) => pattern as string)
const alone = Object.values(ALONE) as string[]
const batched = Object.values(BATCHES).flat()

t.test('.taprc runs the batches\' files and nothing else', async (t) => {
  t.same(included, ['test/batches/*.test.mjs'])
})

t.test('every test file is in exactly one batch or runs alone, and each one named exists', async (t) => {
  t.same([...alone, ...batched].sort(), testFiles)
})

t.test('each batch, and each file that runs alone, has its file in test/batches/, which runs it', async (t) => {
  const names = [...Object.keys(BATCHES), ...Object.keys(ALONE)]
  t.equal(new Set(names).size, names.length, 'no name twice')
  const batchFiles = readdirSync(new URL('batches/', TEST)).filter((file) => file.endsWith('.test.mjs') || file.endsWith('.test.ts'))
  t.same(batchFiles.map((file) => file.replace(/\.test\.mjs$/, '')).sort(), names.sort())
  for (const name of names) {
    t.match(readFileSync(new URL(`batches/${name}.test.mjs`, TEST), 'utf8'), `await runBatch('${name}')`, name)
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
