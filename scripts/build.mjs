#!/usr/bin/env node
// Compiles src/ into dist/ with TypeScript, bundles the entry points with
// esbuild (bundleEntryPoints, below), and records what it compiled: a hash
// of the sources, the tsconfig files and the lockfile, in dist/.source-hash.
//   node scripts/build.mjs              always compile (npm run build)
//   node scripts/build.mjs --if-stale   compile only when dist/ is missing or was
//                                       built from other sources (npm start, after
//                                       a git pull, say); else return at once
//   --optional                          without TypeScript installed (npm ci
//                                       --omit=dev), say so and exit 0 (prepare)
// Plain JavaScript with no dependencies, so that it runs before anything is built.
// Not the service: left out of the suite's coverage, whichever of its paths the
// suite's own build happens to take; test/scripts/build.test.ts runs it as a command.
/* c8 ignore start */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const stampFile = join(root, 'dist', '.source-hash')
const ifStale = process.argv.includes('--if-stale')
const optional = process.argv.includes('--optional')

/** Every input of the build, in a fixed order, hashed by path and content. */
function sourceHash () {
  const files = readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
  files.push(...['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].map((name) => join(root, name)))
  const hash = createHash('sha256')
  for (const file of files.map((path) => relative(root, path)).sort()) {
    hash.update(`${file}\0`).update(readFileSync(join(root, file))).update('\0')
  }
  return hash.digest('hex')
}

function say (message) {
  process.stderr.write(`build: ${message}\n`)
}

if (!existsSync(join(root, 'src'))) {
  // An install before the sources are copied in (a container's dependency layer).
  if (optional) process.exit(0)
  say('there is no src/ to compile')
  process.exit(1)
}
const hash = sourceHash()
const built = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : undefined
if (ifStale && built === hash && existsSync(join(root, 'dist', 'server.js'))) {
  // Found current: the stamp's time says so to anyone who compares times (the
  // test suite refuses a build older than a source), after an edit undone, say.
  const now = new Date()
  utimesSync(stampFile, now, now)
  process.exit(0)
}

let tsc
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
} catch {
  if (optional) {
    say('TypeScript is not installed (a production install, npm ci --omit=dev): dist/ is left as it is')
    process.exit(0)
  }
  say(built === undefined
    ? 'dist/ has not been built, and TypeScript is not installed: run npm ci (with the dev dependencies), or copy a dist/ built elsewhere'
    : 'dist/ was built from other sources than src/, and TypeScript is not installed to rebuild it: run npm ci (with the dev dependencies)')
  process.exit(1)
}

if (ifStale) say(built === undefined ? 'compiling src/ into dist/' : 'src/ changed since the last build: compiling again')
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' })
if (result.status !== 0) {
  say(`TypeScript failed (exit ${result.status ?? result.signal}): dist/ is not up to date`)
  process.exit(1)
}
try {
  await bundleEntryPoints()
} catch (error) {
  say(`bundling the entry points failed: ${error.message}`)
  process.exit(1)
}
writeFileSync(stampFile, `${hash}\n`)

/**
 * The entry points (dist/server.js, dist/cli/*.js) bundled by esbuild over
 * tsc's files of the same name, with the packages they import: Node 20 loads
 * an ES module package file by file (typebox and kysely are 640 files), and
 * a start spent most of its CPU on that. The shared code goes
 * into dist/chunks/, and what an entry point imports on demand (local mode,
 * the CDN signer) into chunks of its own, loaded only when used. The rest of
 * dist/ stays as tsc wrote it, module by module, for the tests and for
 * anyone who imports a module.
 * Left out of the bundle, loaded from node_modules as before:
 * - local mode's database and S3 emulator, development dependencies that
 *   read files of their own (PGlite's WebAssembly, the emulator's modules);
 * - OpenTelemetry, off unless configured: the API is shared between every
 *   copy that loads it, and only node_modules has them all.
 */
async function bundleEntryPoints () {
  const esbuild = await import('esbuild')
  // Chunks of an earlier build would stay beside the new ones.
  rmSync(join(root, 'dist', 'chunks'), { recursive: true, force: true })
  const entryPoints = ['server.js', ...readdirSync(join(root, 'dist', 'cli')).filter((name) => name.endsWith('.js')).map((name) => `cli/${name}`)]
  await esbuild.build({
    absWorkingDir: root,
    // tsc's output, whose source maps esbuild follows back to src/: a function is then found
    // at the same place in src/ whichever of the two ran it, and coverage adds up.
    entryPoints: entryPoints.map((entry) => `dist/${entry}`),
    outbase: 'dist',
    outdir: 'dist',
    allowOverwrite: true,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    sourcemap: true,
    sourcesContent: false,
    legalComments: 'none',
    logLevel: 'warning',
    external: ['@electric-sql/pglite', '@electric-sql/pglite/*', 'kysely-pglite-dialect', '@20minutes/s3rver', '@20minutes/s3rver/*', '@opentelemetry/*', '@fastify/otel'],
    // The packages written as CommonJS call require() (of Node's modules, of their own JSON).
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    metafile: true
  }).then(({ metafile }) => {
    for (const output of Object.keys(metafile.outputs).filter((file) => file.endsWith('.map'))) ownSourcesOnly(join(root, output))
  })
}

/**
 * A source map that maps the project's own code only: the code of the
 * bundled packages (and of the JSON files the project imports) is left
 * unmapped, as it is in a module of node_modules that Node loads itself. So
 * coverage is reported on src/ alone, and a profile or a stack trace names a
 * package's code by the chunk it is in.
 */
function ownSourcesOnly (file) {
  const map = JSON.parse(readFileSync(file, 'utf8'))
  const kept = new Map()
  // The project's TypeScript: not the packages, nor a JSON file that a module imports.
  map.sources.forEach((source, index) => { if (!/(^|\/)node_modules\//.test(source) && source.endsWith('.ts')) kept.set(index, kept.size) })
  const lines = decodeMappings(map.mappings).map((segments) => segments.map((segment) =>
    segment.length === 1 || !kept.has(segment[1]) ? [segment[0]] : [segment[0], kept.get(segment[1]), ...segment.slice(2)])
    // An unmapped segment only ends a mapped one before it; any other says nothing.
    .filter((segment, index, all) => segment.length > 1 || all[index - 1]?.length > 1))
  map.sources = map.sources.filter((_, index) => kept.has(index))
  mapDeclarationStarts(lines, readFileSync(file.replace(/\.map$/, ''), 'utf8').split('\n'), map.sources.map((source) => join(dirname(file), source)))
  map.mappings = encodeMappings(lines)
  writeFileSync(file, JSON.stringify(map))
}

/**
 * A function or class declaration mapped where tsc's map puts it. esbuild
 * writes `export function f` of a module as `function f` and maps its name,
 * not its start; coverage places a function where its start maps to, and
 * would count a function found at two places (tsc's module in the tests'
 * own processes, the bundle in the processes they start) as two. So the
 * start is mapped as the start of the same declaration in tsc's output is:
 * its first word there, looked up in tsc's map.
 */
function mapDeclarationStarts (lines, generated, sourceFiles) {
  const tscOutputs = new Map()
  const tscOutput = (source) => {
    if (!tscOutputs.has(source)) {
      const js = join(root, 'dist', relative(join(root, 'src'), source).replace(/\.ts$/, '.js'))
      tscOutputs.set(source, existsSync(`${js}.map`)
        ? { lines: readFileSync(js, 'utf8').split('\n'), mappings: decodeMappings(JSON.parse(readFileSync(`${js}.map`, 'utf8')).mappings) }
        : undefined)
    }
    return tscOutputs.get(source)
  }
  lines.forEach((segments, line) => {
    const declaration = /^(\s*)((?:async\s+)?(?:function\*?|class)\s+)[\w$]/.exec(generated[line] ?? '')
    if (declaration === null) return
    const start = declaration[1].length
    const name = segments.find((segment) => segment[0] === start + declaration[2].length && segment.length >= 4)
    const tsc = name === undefined ? undefined : tscOutput(sourceFiles[name[1]])
    if (tsc === undefined) return
    // Where tsc wrote the same name, and the declaration's first word before it.
    const tscLine = tsc.mappings.findIndex((tscSegments) => tscSegments.some((segment) => segment[2] === name[2] && segment[3] === name[3]))
    if (tscLine === -1) return
    const tscName = tsc.mappings[tscLine].find((segment) => segment[2] === name[2] && segment[3] === name[3])[0]
    const tscStart = tscName - declaration[2].length
    if (tsc.lines[tscLine].slice(tscStart, tscName) !== declaration[2]) return
    const found = tsc.mappings[tscLine].filter((segment) => segment[0] <= tscStart && segment.length >= 4).at(-1)
    if (found === undefined) return
    const mapped = [start, name[1], found[2], found[3]]
    const at = segments.findIndex((segment) => segment[0] >= start)
    if (segments[at]?.[0] === start) segments[at] = mapped
    else segments.splice(at === -1 ? segments.length : at, 0, mapped)
  })
}

/** Source map mappings as absolute numbers: a line's segments of [column, source, line, column, name?]. */
function decodeMappings (mappings) {
  const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const state = [0, 0, 0, 0]
  return mappings.split(';').map((line) => {
    let column = 0
    return line === ''
      ? []
      : line.split(',').map((text) => {
        const fields = []
        let value = 0
        let shift = 0
        for (const char of text) {
          const digit = BASE64.indexOf(char)
          value += (digit & 31) << shift
          if (digit & 32) {
            shift += 5
          } else {
            fields.push(value & 1 ? -(value >>> 1) : value >>> 1)
            value = 0
            shift = 0
          }
        }
        column += fields[0]
        const segment = [column]
        for (let i = 1; i < fields.length; i++) {
          state[i - 1] += fields[i]
          segment.push(state[i - 1])
        }
        return segment
      })
  })
}

function encodeMappings (lines) {
  const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const state = [0, 0, 0, 0]
  const vlq = (number) => {
    let value = number < 0 ? (-number << 1) | 1 : number << 1
    let text = ''
    do {
      const digit = value & 31
      value >>>= 5
      text += BASE64[value > 0 ? digit | 32 : digit]
    } while (value > 0)
    return text
  }
  return lines.map((segments) => {
    let column = 0
    return segments.map((segment) => {
      let text = vlq(segment[0] - column)
      column = segment[0]
      for (let i = 1; i < segment.length; i++) {
        text += vlq(segment[i] - state[i - 1])
        state[i - 1] = segment[i]
      }
      return text
    }).join(',')
  }).join(';')
}
/* c8 ignore stop */
