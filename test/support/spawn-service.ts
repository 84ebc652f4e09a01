// Runs one of the project's entry points as its own process, the way
// `npm start` would, with tap's TypeScript loader (so coverage counts).
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const SETTINGS = ['PORT', 'HOST', 'DATABASE_URL', 'S3_BUCKET', 'S3_REGION', 'S3_ENDPOINT', 'S3_PUBLIC_ENDPOINT', 'S3_FORCE_PATH_STYLE',
  'S3_KEY_PREFIX', 'PRESIGN_TTL_SECONDS', 'S3_CONNECT_TIMEOUT_MS', 'S3_FIRST_BYTE_TIMEOUT_MS', 'CORS_ORIGINS', 'LOG_LEVEL',
  'DATABASE_TIMEOUT_MS', 'LOCAL_DATA_DIR', 'CORS_ALLOW_CREDENTIALS', 'PRESIGN_REUSE_SECONDS', 'LOOKUP_CACHE_SIZE', 'LOOKUP_CACHE_TTL_SECONDS', 'LOOKUP_CACHE_MISS_SECONDS', 'SHUTDOWN_TIMEOUT_MS', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_SERVICE_NAME']

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
