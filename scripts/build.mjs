#!/usr/bin/env node
// Compiles src/ into dist/ with TypeScript, and records what it compiled: a
// hash of the sources, the tsconfig files and the lockfile, in dist/.source-hash.
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
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'
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
writeFileSync(stampFile, `${hash}\n`)
/* c8 ignore stop */
