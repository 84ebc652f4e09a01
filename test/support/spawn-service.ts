// Runs one of the project's entry points as its own process, the way
// `npm start` would: the built code in dist/ (built before the suite), its
// coverage written where tap's report reads it, mapped back to src/ through
// the source maps.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { cp, mkdtemp, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Tap } from '../helper.js'
import { clonePGlite, templateKey } from './pglite-template.js'
import { waitUntil } from './wait.js'

const ROOT = new URL('../../', import.meta.url)
// Every setting that .env.example names, so that none leaks in from the environment the tests run in.
const SETTINGS = [...readFileSync(new URL('.env.example', ROOT), 'utf8').matchAll(/^#?([A-Z][A-Z0-9_]*)=/gm)].map(([, name]) => name as string)

export interface Service {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves once stdout matches, with the match; rejects if the process exits first. */
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** The newest modification time of the files below a folder. */
function newest (folder: string): number {
  return Math.max(...readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => statSync(join(entry.parentPath, entry.name)).mtimeMs))
}

/**
 * The built entry point; a build older than the sources is refused, never run
 * (scripts/build.mjs stamps dist/.source-hash each time it compiles or finds
 * the build current).
 */
function builtEntry (entry: string): string {
  const built = fileURLToPath(new URL(`dist/${entry.replace(/\.ts$/, '.js')}`, ROOT))
  const builtAt = statSync(new URL('dist/.source-hash', ROOT), { throwIfNoEntry: false })?.mtimeMs ?? 0
  /* c8 ignore next 3: the suite builds dist/ before it starts (.taprc `before`) */
  if (builtAt < newest(fileURLToPath(new URL('src/', ROOT)))) {
    throw new Error(`${built} is missing or older than src/: run the suite through tap (it builds first), or npm run build`)
  }
  return built
}

const COVERAGE = fileURLToPath(new URL('.tap/coverage/', ROOT))
// The test processes' own preloads (.taprc node-arg): the built sources for the tests, tap's file recording left out.
const TEST_PROCESS_ONLY = ['--import=./test/support/built-sources.mjs', '--require=./test/support/no-file-recording.cjs']
// Tap's coverage hook, which tap puts in NODE_OPTIONS and adds again to the environment of every child process.
const TAP_COVERAGE_HOOK = /^--(import|loader|experimental-loader)=\S*@tapjs[/\\]processinfo[/\\]\S*$/

// Takes a spawned entry point's coverage of dist/, for tap's report (entry-coverage.mjs).
const ENTRY_COVERAGE = `--import=${new URL('entry-coverage.mjs', import.meta.url).href}`

/**
 * How an entry point is started: with this process's runtime options, less
 * the tests' loader (their compilation, src/ → dist/) and tap's coverage hook.
 * The project's own preload takes the coverage (entry-coverage.mjs, into the
 * folder that tap's report reads, c8's format both): on Node 20 tap's hook
 * runs a module loader thread that costs each start of the service about a
 * CPU-second more (2.7 against 1.9 for a start in local mode and a SIGTERM),
 * and the suite starts fifty. NODE_OPTIONS is set through `env`, after tap has
 * put its hook back in; the processes an entry point starts in turn (npm start's
 * node) inherit it.
 */
function entryCommand (env: Record<string, string | undefined>): { file: string, args: string[] } {
  const runtime = process.execArgv.filter((arg) => !TEST_PROCESS_ONLY.includes(arg) && !TAP_COVERAGE_HOOK.test(arg))
  const options = (env.NODE_OPTIONS ?? '').split(/\s+/).filter((option) => option !== '' && !TAP_COVERAGE_HOOK.test(option.replace(/^"|"$/g, '')))
  const coverage = process.env._TAPJS_PROCESSINFO_COVERAGE_ === '1'
  const nodeOptions = coverage ? [ENTRY_COVERAGE, ...options] : options
  return { file: '/usr/bin/env', args: [`NODE_OPTIONS=${nodeOptions.join(' ')}`, ...(coverage ? [`_REPLAY_GATE_TEST_COVERAGE_=${COVERAGE}`] : []), process.execPath, ...runtime] }
}

let emptyFolder: string | undefined
/** A folder of the test process's own, empty: a developer's .env in the project folder must not reach a spawned entry point. */
function emptyWorkingDir (): string {
  if (emptyFolder === undefined) {
    emptyFolder = mkdtempSync(join(tmpdir(), 'replay-gate-cwd-'))
    const folder = emptyFolder
    process.once('exit', () => { rmSync(folder, { recursive: true, force: true }) })
  }
  return emptyFolder
}

/**
 * `entry` is a path below src/, such as `server.ts` or `cli/db-migrate.ts`. It
 * runs in an empty working folder unless `cwd` says otherwise, with none of
 * the service's settings from the tests' environment (nor NODE_ENV).
 */
export function spawnEntry (entry: string, env: Record<string, string>, args: string[] = [], { cwd = emptyWorkingDir() }: { cwd?: string } = {}): Service {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !SETTINGS.includes(name) && name !== 'NODE_ENV'))
  const command = entryCommand({ ...clean, ...env })
  const child = spawn(command.file, [...command.args, builtEntry(entry), ...args], {
    cwd,
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }))
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: async (pattern, timeoutMs = 60_000) => {
      const found = await waitUntil(() => pattern.exec(out) ?? (child.exitCode !== null ? null : undefined), { timeoutMs, everyMs: 20 })
      if (found === undefined || found === null) throw new Error(`no ${pattern} in the output of ${entry}:\n${out}\n${err}`)
      return found
    }
  }
}

const CACHE = fileURLToPath(new URL('node_modules/.cache/replay-gate/', ROOT))
const templateFolders = new Map<'migrated' | 'unmigrated', Promise<string>>()

/**
 * The template cloned into a folder once, and shut down: the files a clone in
 * a local-mode folder leaves there. Kept beside the template's tarball, named
 * as it is, so that the suite's test files clone it once between them.
 */
async function pgliteTemplateFolder (which: 'migrated' | 'unmigrated'): Promise<string> {
  let made = templateFolders.get(which)
  if (made === undefined) {
    made = (async () => {
      const folder = join(CACHE, `pglite-folder-${templateKey()}${which === 'migrated' ? '' : '-unmigrated'}`)
      if (statSync(folder, { throwIfNoEntry: false }) === undefined) {
        // Made aside, then renamed: a test file running beside this one never copies half a folder.
        const partial = `${folder}.${process.pid}`
        await (await clonePGlite(partial, which)).destroy()
        /* c8 ignore next: another test file made it first */
        await rename(partial, folder).catch(async () => { await rm(partial, { recursive: true, force: true }) })
        // Folders of earlier templates are of no more use.
        for (const name of readdirSync(CACHE)) {
          if (/^pglite-folder-[0-9a-f]{16}(-unmigrated)?$/.test(name) && !name.includes(templateKey())) await rm(join(CACHE, name), { recursive: true, force: true })
        }
      }
      return folder
    })()
    templateFolders.set(which, made)
  }
  return await made
}

/**
 * A local-mode data folder whose database is already migrated (a copy of a
 * clone of the template: no PGlite starts for it), removed in teardown. With
 * `database: 'unmigrated'`, a database that initdb made and no migration
 * touched; with `false`, an empty folder (the start runs initdb).
 */
export async function localDataDir (t: Tap, { database = true }: { database?: boolean | 'unmigrated' } = {}): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), 'replay-gate-local-'))
  t.teardown(async () => { await rm(dataDir, { recursive: true, force: true }) })
  if (database !== false) await cp(await pgliteTemplateFolder(database === true ? 'migrated' : database), join(dataDir, 'pglite'), { recursive: true })
  return dataDir
}
