// scripts/build.mjs, the build that npm start, npm ci (prepare) and the suite
// run: it must never let a dist/ built from other sources run.
import { execFile } from 'node:child_process'
import { appendFileSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs'
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

/** The modules a bundled file imports: esbuild writes its imports at the start of a line, and a dynamic one with double quotes (examples in the packages' comments have neither). */
function importsOf (file: string): string[] {
  const code = readFileSync(file, 'utf8')
  return [...code.matchAll(/^(?:import|export)\s[^;]*?\bfrom\s*"([^"]+)";|^import\s*"([^"]+)";|\bimport\("([^"]+)"\)/gm)]
    .map((match) => (match[1] ?? match[2] ?? match[3]) as string)
}

t.test('the entry points are bundled: they load no package from node_modules but the ones left out on purpose', async (t) => {
  const dist = join(root, 'dist')
  const bundled = [join(dist, 'server.js'), ...readdirSync(join(dist, 'cli')).filter((name) => name.endsWith('.js')).map((name) => join(dist, 'cli', name)),
    ...readdirSync(join(dist, 'chunks')).filter((name) => name.endsWith('.js')).map((name) => join(dist, 'chunks', name))]
  // Local mode's database and S3 emulator (development dependencies), and OpenTelemetry (off unless configured).
  const leftOut = /^(node:|\.\.?\/|@electric-sql\/pglite($|\/)|kysely-pglite-dialect$|@20minutes\/s3rver($|\/)|@opentelemetry\/|@fastify\/otel$)/
  const packages = bundled.flatMap((file) => importsOf(file).filter((specifier) => !leftOut.test(specifier)).map((specifier) => `${specifier} in ${file.slice(dist.length + 1)}`))
  t.same(packages, [], 'every other import is of a chunk or of Node')
  t.ok(importsOf(join(dist, 'server.js')).some((specifier) => specifier.startsWith('./chunks/')), 'the entry point imports its chunks')
  // The source maps name the project's code only: coverage and a profile see src/, not the packages' code.
  const sources = bundled.flatMap((file) => (JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] }).sources)
  t.ok(sources.includes('../src/server.ts'))
  t.same(sources.filter((source) => !/^(\.\.\/)+src\/.+\.ts$/.test(source)), [])
})
