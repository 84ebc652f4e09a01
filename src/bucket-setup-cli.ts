// npm run bucket:setup [-- --check] [-- --key KEY]: creates the configured
// bucket if it is missing, applies localstack/bucket-cors.json, then checks
// that a browser following the redirect can read a replay. With --check it
// changes nothing and only reports. Exit code 1 when a check fails.
import { parseArgs } from 'node:util'
import { ConfigError, parseConfig, type S3Config } from './config.js'
import { BUCKET_CORS_FILE, readBucketCors } from './storage/bucket-cors.js'
import { applyBucketCors, checkLiveCors, checkStoredCors, describeBucket, ensureBucket, type Finding } from './storage/bucket-setup.js'
import { ReplayStorage } from './storage/replay-storage.js'

const USAGE = `Usage: npm run bucket:setup [-- --check] [-- --key KEY]
  Creates S3_BUCKET if missing, applies the CORS rules of localstack/bucket-cors.json,
  then checks them with a preflight and a signed GET from Origin: null.
  --check    change nothing; only check and report (exit code 1 when a check fails)
  --key KEY  the object the GET check asks for (default: a probe key under S3_KEY_PREFIX;
             a missing object is fine, S3 answers its 404 with the same CORS headers)`

async function main (): Promise<number> {
  let options
  try {
    options = parseArgs({ options: { check: { type: 'boolean' }, key: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values
  } catch (error) {
    console.error(`bucket:setup: ${(error as Error).message}\n${USAGE}`)
    return 2
  }
  if (options.help === true) {
    console.log(USAGE)
    return 0
  }
  if (process.env.S3_BUCKET === undefined || process.env.S3_BUCKET.trim() === '') {
    console.error('bucket:setup: S3_BUCKET is not set. This command sets up a real bucket (with S3_ENDPOINT, S3_REGION and AWS credentials);\n' +
      'local mode needs none: its emulator gets the same rules at every start.')
    return 1
  }
  // Only the bucket matters here: a database is not needed.
  const config = parseConfig({ ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://unused-by-bucket-setup' })
  const { s3 } = config
  const storage = new ReplayStorage({ s3, presignTtlSeconds: 60 })
  const code = await setUp(storage, s3, options).catch((error: unknown) => error as Error)
  storage.close()
  if (typeof code === 'number') return code
  throw code
}

async function setUp (storage: ReplayStorage, s3: S3Config, options: { check?: boolean, key?: string }): Promise<number> {
  console.log(describeBucket(s3))
  if (options.check !== true) {
    const state = await ensureBucket(storage.client, s3.bucket, s3.region)
    console.log(`  bucket: ${state === 'created' ? 'created' : 'already there'}`)
    const cors = readBucketCors()
    await applyBucketCors(storage.client, s3.bucket, cors)
    console.log(`  CORS: applied ${cors.CORSRules.length} rule(s) from ${decodeURI(BUCKET_CORS_FILE.pathname)}`)
  }
  const key = options.key ?? `${s3.keyPrefix}replay-gate-cors-check`
  const findings: Finding[] = [
    ...await checkStoredCors(storage.client, s3.bucket),
    ...await checkLiveCors({ storage, key, timeoutMs: s3.firstByteTimeoutMs })
  ]
  console.log('Checks:')
  for (const { check, level, detail } of findings) console.log(`  ${level.padEnd(4)}  ${check}: ${detail}`)
  if (findings.some((f) => f.level === 'fail')) {
    console.log('The bucket\'s CORS rules would break downloads in a browser that follows the redirect.' +
      (options.check === true ? ' Run `npm run bucket:setup` to apply localstack/bucket-cors.json.' : ''))
    return 1
  }
  console.log('A page on any origin can follow the redirect to this bucket and read the replay.')
  return 0
}

try {
  process.exitCode = await main()
} catch (error) {
  const { name, message } = error as Error
  console.error(`bucket:setup failed: ${error instanceof ConfigError ? message : `${name}: ${message}`}`)
  process.exitCode = 1
}
