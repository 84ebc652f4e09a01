// Node's process warnings (a deprecation, the AWS SDK's notice about Node
// versions) as JSON lines like the rest of the log, instead of Node's
// multi-line plain text on standard error.
import { hostname } from 'node:os'

/**
 * Replaces Node's own printer of process warnings with one that writes a JSON
 * line at pino's `warn` level. Where Node prints none (`--no-warnings`,
 * NODE_NO_WARNINGS=1), nothing is printed either.
 */
export function logWarningsAsJson (out: { write: (line: string) => unknown } = process.stderr): void {
  if (process.listenerCount('warning') === 0) return
  process.removeAllListeners('warning')
  process.on('warning', (warning: Error & { code?: string }) => {
    out.write(`${JSON.stringify({
      level: 40,
      time: Date.now(),
      pid: process.pid,
      hostname: hostname(),
      warning: { name: warning.name, code: warning.code },
      msg: warning.message.replace(/\s+/g, ' ').trim()
    })}\n`)
  })
}
