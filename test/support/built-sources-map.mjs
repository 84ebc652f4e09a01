// What built-sources.mjs's hooks do, in either thread: src/**/*.ts resolves to
// dist/**/*.js, which is loaded as tsc wrote it (compiling it again would
// replace tsc's source map with another). A build older than its source is
// refused, never run: scripts/build.mjs stamps dist/.source-hash each time it
// compiles or finds the build current.
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import module, { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const [major, minor] = process.versions.node.split('.').map(Number)
/** Whether Node strips TypeScript's types itself and runs module hooks in the importing thread (Node 24.13 and later). */
export const nodeRunsTypeScript = typeof module.registerHooks === 'function' && process.features.typescript === 'strip' && (major > 24 || (major === 24 && minor >= 13))

const ROOT = new URL('../../', import.meta.url).href
const SRC = new URL('src/', ROOT).href
const DIST = new URL('dist/', ROOT).href
/** When dist/ was last found current: read at the first import of src/, after the suite's build (before-suite.ts) has run. */
let builtAt

/** A resolution into src/ made a resolution into dist/; any other, as it is. */
export function builtInstead (resolved) {
  if (!resolved.url.startsWith(SRC) || !resolved.url.endsWith('.ts')) return resolved
  const built = new URL(DIST + resolved.url.slice(SRC.length, -'.ts'.length) + '.js')
  builtAt ??= statSync(new URL('.source-hash', DIST), { throwIfNoEntry: false })?.mtimeMs ?? 0
  if (builtAt < statSync(new URL(resolved.url)).mtimeMs) {
    throw new Error(`dist/ was built before ${resolved.url.slice(SRC.length - 4)} changed: run the tests through tap (it builds first), or npm run build`)
  }
  return { ...resolved, url: built.href, format: 'module' }
}

/** dist/'s modules as tsc wrote them; undefined for any other URL. */
export function loadBuilt (url) {
  if (!url.startsWith(DIST) || !url.endsWith('.js')) return undefined
  return { format: 'module', source: readFileSync(new URL(url)), shortCircuit: true }
}

/**
 * The specifier to try when `specifier` was not found: a relative `.js` names
 * its `.ts` source, as tsc resolves it. Any other failure is thrown again.
 */
export function typeScriptSibling (specifier, error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !/^\.{1,2}\/.*\.js$/.test(specifier)) throw error
  return specifier.replace(/\.js$/, '.ts')
}

const COMPILED = new URL('node_modules/.cache/replay-gate/compiled-tests/', ROOT)
/**
 * Types removed and nothing else: the syntax stays as written, for the Node
 * that runs it. `import.meta.url` is written in as the source's own URL, so
 * that a test finds its fixtures and the project from either place it runs
 * from: loaded through the hooks, or from the mirror (below).
 */
const COMPILE = { loader: 'ts', format: 'esm', sourcemap: 'inline' }
const COMPILE_VERSION = 2
const require = createRequire(import.meta.url)
let esbuild
let compiler

/** A TypeScript file's JavaScript, its types removed by esbuild, and the file that keeps it, named by the hash of the source: each is compiled once, not in every process. */
function compiledTypeScript (url) {
  const source = readFileSync(new URL(url), 'utf8')
  compiler ??= `esbuild ${JSON.parse(readFileSync(require.resolve('esbuild/package.json'), 'utf8')).version} ${JSON.stringify(COMPILE)} ${COMPILE_VERSION}`
  const key = createHash('sha256').update(compiler).update('\0').update(url).update('\0').update(source).digest('hex').slice(0, 32)
  const file = `${key}.js`
  const cached = new URL(file, COMPILED)
  try {
    return { file, code: readFileSync(cached, 'utf8') }
  } catch {}
  esbuild ??= require('esbuild')
  const { code } = esbuild.transformSync(source, { ...COMPILE, sourcefile: fileURLToPath(url), define: { 'import.meta.url': JSON.stringify(url) } })
  // Written aside, then renamed: a process beside this one never reads half a file.
  mkdirSync(COMPILED, { recursive: true })
  const partial = new URL(`${cached.href}.${process.pid}`)
  writeFileSync(partial, code)
  renameSync(partial, cached)
  return { file, code }
}

/**
 * The tests compiled into a tree that Node 20 runs with no module hooks at all
 * (test/batches/*.test.mjs load their files from it): a hooks thread of
 * Node 20 costs a test process about a CPU-second, every module it loads
 * passing through it and back. Beside the compiled tests and benches, `src`
 * is a link to dist/, so that `../src/x.js` is the build, as the hooks make
 * it; the tests' own JavaScript is linked in as it is. One tree per checkout.
 */
const MIRROR = new URL(`node_modules/.cache/replay-gate/mirror-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}/`, ROOT)

/** Where the mirror keeps the module at `url` (a test's or a bench's TypeScript). */
function mirrored (url) {
  return new URL(url.slice(ROOT.length).replace(/\.ts$/, '.js'), MIRROR).href
}

/** A test module's URL, for this Node to import: the TypeScript where Node runs it (through the in-thread hooks), else its mirror. */
export function runnable (url) {
  return nodeRunsTypeScript ? url : mirrored(url)
}

/** Every test file compiled ahead, in one process (the suite's `before`): not each by the first process that loads it; and the mirror made from them. */
export function compileTests () {
  const current = new Set()
  rmSync(MIRROR, { recursive: true, force: true })
  for (const folder of ['test', 'bench']) {
    for (const entry of readdirSync(new URL(`${folder}/`, ROOT), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue
      const path = join(entry.parentPath, entry.name)
      const url = pathToFileURL(path).href
      const target = fileURLToPath(mirrored(url))
      if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const { file, code } = compiledTypeScript(url)
        current.add(file)
        mkdirSync(dirname(target), { recursive: true })
        writeFileSync(target, code)
      } else if (/\.[cm]?js$/.test(entry.name)) {
        mkdirSync(dirname(target), { recursive: true })
        symlinkSync(relative(dirname(target), path), target)
      }
    }
  }
  symlinkSync(relative(fileURLToPath(MIRROR), fileURLToPath(DIST)), fileURLToPath(new URL('src', MIRROR)))
  // What earlier versions of the tests compiled to is of no more use.
  for (const name of readdirSync(COMPILED)) if (!current.has(name)) rmSync(new URL(name, COMPILED), { force: true })
}

/** The project's own TypeScript outside src/ (the tests), compiled; undefined for any other URL. */
export function loadTypeScript (url) {
  if (!url.startsWith(ROOT) || !url.endsWith('.ts') || url.includes('/node_modules/')) return undefined
  return { format: 'module', source: compiledTypeScript(url).code, shortCircuit: true }
}
