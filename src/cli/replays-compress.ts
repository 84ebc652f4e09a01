// npm run replays:compress: the command of src/variants/command.ts, on this
// process's arguments and environment, with credentials from the AWS SDK's
// chain and the progress bar on stderr when it is a terminal. SIGINT or
// SIGTERM stops it between writes: the game in hand is left unrecorded, and
// a second signal ends the process at once.
import { loadEnvFile } from '../config/env-file.js'
import { runReplaysCompress } from '../variants/command.js'

// The same settings file as the service's.
loadEnvFile()

const interrupt = new AbortController()
const stop = (signal: NodeJS.Signals): void => { interrupt.abort(new Error(`interrupted by ${signal}`)) }
process.once('SIGINT', stop)
process.once('SIGTERM', stop)

process.exitCode = await runReplaysCompress({
  args: process.argv.slice(2),
  env: process.env,
  out: console,
  progress: process.stderr,
  signal: interrupt.signal
})
process.off('SIGINT', stop)
process.off('SIGTERM', stop)
