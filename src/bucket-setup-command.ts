// What `npm run bucket:setup [-- --check] [-- --key KEY]` does: creates the
// configured bucket if it is missing, applies localstack/bucket-cors.json, then
// checks that a browser following the redirect can read a replay. With --check
// it changes nothing and only reports. The exit code: 0 all good, 1 a check
// failed or the command could not run, 2 bad usage.
import { parseArgs } from 'node:util'
import { ConfigError, parseConfig, type Env, type S3Config } from './config.js'
import { BUCKET_CORS_FILE, readBucketCors } from './storage/bucket-cors.js'
import { applyBucketCors, checkLiveCors, checkStoredCors, describeBucket, ensureBucket, type Finding } from './storage/bucket-setup.js'
import type { Credentials } from './storage/s3-client.js'
import { ReplayStorage } from './storage/replay-storage.js'

export interface Output {
  log: (line: string) => void
  error: (line: string) => void
}

export interface BucketSetupRun {
  args: string[]
  env: Env
  out: Output
  /** Left out: the AWS SDK's default chain (environment, profile, container or instance role). */
  credentials?: Credentials
}

const USAGE = `Usage: npm run bucket:setup [-- --check] [-- --key KEY]
  Creates S3_BUCKET if missing, applies the CORS rules of localstack/bucket-cors.json,
  then checks them with a preflight and a signed GET from Origin: null.
  --check    change nothing; only check and report (exit code 1 when a check fails)
  --key KEY  the object the GET check asks for (default: a probe key under S3_KEY_PREFIX;
             a missing object is fine, S3 answers its 404 with the same CORS headers)`

export async function runBucketSetup ({ args, env, out, credentials }: BucketSetupRun): Promise<number> {
  try {
    return await run(args, env, out, credentials)
  } catch (error) {
    const { name, message } = error as Error
    out.error(`bucket:setup failed: ${error instanceof ConfigError ? message : `${name}: ${message}`}`)
    return 1
  }
}

async function run (args: string[], env: Env, out: Output, credentials: Credentials | undefined): Promise<number> {
  let options
  try {
    options = parseArgs({ args, options: { check: { type: 'boolean' }, key: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values
  } catch (error) {
    out.error(`bucket:setup: ${(error as Error).message}\n${USAGE}`)
    return 2
  }
  if (options.help === true) {
    out.log(USAGE)
    return 0
  }
  if (env.S3_BUCKET === undefined || env.S3_BUCKET.trim() === '') {
    out.error('bucket:setup: S3_BUCKET is not set. This command sets up a real bucket (with S3_ENDPOINT, S3_REGION and AWS credentials);\n' +
      'local mode needs none: its emulator gets the same rules at every start.')
    return 1
  }
  // Only the bucket matters here: a database is not needed.
  const config = parseConfig({ ...env, DATABASE_URL: env.DATABASE_URL ?? 'postgres://unused-by-bucket-setup' })
  const { s3 } = config
  const storage = new ReplayStorage({ s3, presignTtlSeconds: 60, credentials })
  const code = await setUp(storage, s3, options, out).catch((error: unknown) => error as Error)
  storage.close()
  if (typeof code === 'number') return code
  throw code
}

async function setUp (storage: ReplayStorage, s3: S3Config, options: { check?: boolean, key?: string }, out: Output): Promise<number> {
  out.log(describeBucket(s3))
  if (options.check !== true) {
    const state = await ensureBucket(storage.client, s3.bucket, s3.region)
    out.log(`  bucket: ${state === 'created' ? 'created' : 'already there'}`)
    const cors = readBucketCors()
    await applyBucketCors(storage.client, s3.bucket, cors)
    out.log(`  CORS: applied ${cors.CORSRules.length} rule(s) from ${decodeURI(BUCKET_CORS_FILE.pathname)}`)
  }
  const key = options.key ?? `${s3.keyPrefix}replay-gate-cors-check`
  const findings: Finding[] = [
    ...await checkStoredCors(storage.client, s3.bucket),
    ...await checkLiveCors({ storage, key, timeoutMs: s3.firstByteTimeoutMs })
  ]
  out.log('Checks:')
  for (const { check, level, detail } of findings) out.log(`  ${level.padEnd(4)}  ${check}: ${detail}`)
  if (findings.some((f) => f.level === 'fail')) {
    out.log('The bucket\'s CORS rules would break downloads in a browser that follows the redirect.' +
      (options.check === true ? ' Run `npm run bucket:setup` to apply localstack/bucket-cors.json.' : ''))
    return 1
  }
  out.log('A page on any origin can follow the redirect to this bucket and read the replay.')
  return 0
}

