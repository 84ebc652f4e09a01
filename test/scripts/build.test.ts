// scripts/build.mjs, the build that npm start, npm ci (prepare) and the suite
// run: it must never let a dist/ built from other sources run.
import { execFile } from 'node:child_process'
import { appendFileSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'

const root = resolve(fileURLToPath(new URL('../../', import.meta.url)))

/** Runs the script in `cwd`'s copy; its exit code and what it printed. */
async function build (cwd: string, ...args: string[]): Promise<{ code: number, stderr: string }> {
  try {
    const { stderr } = await promisify(execFile)(process.execPath, [join(cwd, 'scripts', 'build.mjs'), ...args], { cwd })
    return { code: 0, stderr }
  } catch (error) {
    const failed = error as { code: number, stderr: string }
    return { code: failed.code, stderr: failed.stderr }
  }
}

/**
 * A checkout as a production install has it: the sources, the build script
 * and the dist/ that the suite built (with its record of what it compiled),
 * and no TypeScript (no node_modules at all).
 */
function productionCheckout (t: Test): string {
  // Outside the project's folder, where node_modules/typescript would be found by walking up.
  const folder = mkdtempSync(join(tmpdir(), 'replay-gate-checkout-'))
  t.teardown(() => { rmSync(folder, { recursive: true, force: true }) })
  mkdirSync(join(folder, 'scripts'))
  copyFileSync(join(root, 'scripts', 'build.mjs'), join(folder, 'scripts', 'build.mjs'))
  for (const file of ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json']) copyFileSync(join(root, file), join(folder, file))
  cpSync(join(root, 'src'), join(folder, 'src'), { recursive: true })
  cpSync(join(root, 'dist'), join(folder, 'dist'), { recursive: true })
  return folder
}

t.test('the suite\'s build is recorded: --if-stale returns at once, compiling nothing', async (t) => {
  t.match(readFileSync(join(root, 'dist', '.source-hash'), 'utf8'), /^[0-9a-f]{64}\n$/)
  const { code, stderr } = await build(root, '--if-stale')
  t.equal(code, 0)
  t.equal(stderr, '', 'nothing compiled, nothing said')
})

t.test('without TypeScript: an up-to-date dist/ is used, a stale one is refused, and prepare passes', async (t) => {
  const folder = productionCheckout(t)
  const stamp = join(folder, 'dist', '.source-hash')
  // A source saved again with the content it was built from (an edit undone): still current.
  utimesSync(stamp, new Date('2020-01-01'), new Date('2020-01-01'))
  t.same(await build(folder, '--if-stale'), { code: 0, stderr: '' }, 'the same sources: nothing to do, no TypeScript needed')
  t.ok(statSync(stamp).mtimeMs > statSync(join(folder, 'src', 'server.ts')).mtimeMs, 'the stamp\'s time says the build was found current')

  appendFileSync(join(folder, 'src', 'server.ts'), '\n// an edit, or a git pull\n')
  const stale = await build(folder, '--if-stale')
  t.equal(stale.code, 1, 'a dist/ built from other sources is never run')
  t.match(stale.stderr, /dist\/ was built from other sources than src\/, and TypeScript is not installed/)

  const prepare = await build(folder, '--if-stale', '--optional')
  t.equal(prepare.code, 0, 'npm ci --omit=dev does not fail on it')
  t.match(prepare.stderr, /TypeScript is not installed \(a production install, npm ci --omit=dev\)/)
})

t.test('a checkout never built, without TypeScript, and an install before the sources are there', async (t) => {
  const folder = productionCheckout(t)
  rmSync(join(folder, 'dist'), { recursive: true })
  const unbuilt = await build(folder, '--if-stale')
  t.equal(unbuilt.code, 1)
  t.match(unbuilt.stderr, /dist\/ has not been built, and TypeScript is not installed/)

  rmSync(join(folder, 'src'), { recursive: true })
  t.same(await build(folder, '--if-stale', '--optional'), { code: 0, stderr: '' }, 'a container\'s dependency layer: nothing to build yet')
  const noSources = await build(folder)
  t.equal(noSources.code, 1)
  t.match(noSources.stderr, /there is no src\/ to compile/)
})
