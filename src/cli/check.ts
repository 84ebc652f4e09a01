// npm run check: the command of src/checks/command.ts, on this process's
// arguments and environment, with credentials from the AWS SDK's chain.
import { runCheck } from '../checks/command.js'
import { loadEnvFile } from '../config/env-file.js'

// The same settings file as the service's.
loadEnvFile()

process.exitCode = await runCheck({
  args: process.argv.slice(2),
  env: process.env,
  out: console
})
