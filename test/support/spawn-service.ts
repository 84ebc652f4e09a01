// Runs one of the project's entry points as its own process, the way
// `npm start` would, with tap's TypeScript loader (so coverage counts).
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// Every setting that .env.example names, so that none leaks in from the environment the tests run in.
const SETTINGS = [...readFileSync(new URL('../../.env.example', import.meta.url), 'utf8').matchAll(/^#?([A-Z][A-Z0-9_]*)=/gm)].map(([, name]) => name as string)

export interface Service {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves once stdout matches, with the match; rejects if the process exits first. */
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

export function spawnEntry (entry: string, env: Record<string, string>, args: string[] = []): Service {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !SETTINGS.includes(name)))
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(new URL(`../../src/${entry}`, import.meta.url)), ...args], {
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
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        const match = pattern.exec(out)
        if (match !== null) return match
        if (child.exitCode !== null) break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      throw new Error(`no ${pattern} in the output of ${entry}:\n${out}\n${err}`)
    }
  }
}
