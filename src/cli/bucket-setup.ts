// npm run bucket:setup: the command of src/bucket/setup-command.ts, on this
// process's arguments and environment, with credentials from the AWS SDK's chain.
import { runBucketSetup } from '../bucket/setup-command.js'
import { loadEnvFile } from '../config/env-file.js'

// The same settings file as the service's.
loadEnvFile()

process.exitCode = await runBucketSetup({
  args: process.argv.slice(2),
  env: process.env,
  out: console
})
