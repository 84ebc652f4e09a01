// What `npm run bucket:setup [-- --check] [-- --key KEY]` does: creates the
// configured bucket if it is missing, applies localstack/bucket-cors.json, then
// checks that a browser following the redirect can read a replay. With --check
// it changes nothing and only reports. The exit code: 0 all good, 1 a check
// failed or the command could not run, 2 bad usage.
import type { S3Client } from '@aws-sdk/client-s3'
import { parseArgs } from 'node:util'
import { describeNoAnswer, s3Code, s3Status } from '../storage/s3-errors.js'
import { ConfigError, parseStorageConfig, type Env, type S3Config } from '../config/index.js'
import { createS3Client, type Credentials } from '../storage/s3-client.js'
import { openStorage } from '../storage/open-storage.js'
import type { ReplayStorage } from '../storage/replay-storage.js'
import { applyBucketCors, checkLiveCors, checkStoredCors, describeBucket, ensureBucket, type Finding } from './cors-checks.js'
import { BUCKET_CORS_FILE, readBucketCors } from './cors-rules.js'

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
    out.error(`bucket:setup failed: ${describeSetupFailure(error)}`)
    return 1
  }
}

/** What S3 said (its status and code, with what usually causes it), or why it said nothing. */
export function describeSetupFailure (error: unknown): string {
  if (error instanceof ConfigError) return error.message
  const status = s3Status(error)
  if (status === undefined) return `S3 did not answer: ${describeNoAnswer(error)} (is S3_ENDPOINT right, and S3 up?)`
  const hint = STATUS_HINTS[status]
  // A HEAD's answer (HeadBucket) has no body, hence no error code.
  return `S3 answered ${status}, error code ${s3Code(error)}${hint === undefined ? '' : `: ${hint}`}`
}

const STATUS_HINTS: Record<number, string> = {
  301: 'the bucket is in another region (set S3_REGION to it)',
  400: 'S3 refused the request (a wrong S3_REGION can do that)',
  403: 'the credentials are refused, or may not do this (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the policy: this command needs to create the bucket and put its CORS rules)',
  404: 'no such bucket, or S3_ENDPOINT is not an S3 server'
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
  const { s3 } = parseStorageConfig(env, { requireBucket: true })
  // Its own client for the bucket's administration; the service's storage signs the GET that is checked.
  const admin = createS3Client({ ...s3, credentials })
  const storage = openStorage({ s3, presignTtlSeconds: 60, credentials })
  const code = await setUp(admin, storage, s3, options, out).catch((error: unknown) => error as Error)
  admin.destroy()
  storage.close()
  if (typeof code === 'number') return code
  throw code
}

async function setUp (admin: S3Client, storage: ReplayStorage, s3: S3Config, options: { check?: boolean, key?: string }, out: Output): Promise<number> {
  out.log(describeBucket(s3))
  if (options.check !== true) {
    const state = await ensureBucket(admin, s3.bucket, s3.region)
    out.log(`  bucket: ${state === 'created' ? 'created' : 'already there'}`)
    const cors = readBucketCors()
    await applyBucketCors(admin, s3.bucket, cors)
    out.log(`  CORS: applied ${cors.CORSRules.length} rule(s) from ${decodeURI(BUCKET_CORS_FILE.pathname)}`)
  }
  const key = options.key ?? `${s3.keyPrefix}replay-gate-cors-check`
  const findings: Finding[] = [
    ...await checkStoredCors(admin, s3.bucket),
    ...await checkLiveCors({ storage, key, timeoutMs: s3.firstByteTimeoutMs })
  ]
  out.log('Checks:')
  for (const { check, level, detail } of findings) out.log(`  ${level.padEnd(4)}  ${check}: ${detail}`)
  const failed = findings.filter((f) => f.level === 'fail')
  // A rule that is wrong, and an endpoint that did not answer here, call for different fixes.
  if (failed.some((f) => f.noAnswer !== true)) {
    out.log('The bucket\'s CORS rules would break downloads in a browser that follows the redirect.' +
      (options.check === true ? ' Run `npm run bucket:setup` to apply localstack/bucket-cors.json.' : ''))
  }
  if (failed.some((f) => f.noAnswer === true)) {
    out.log('S3\'s public endpoint (S3_PUBLIC_ENDPOINT, else S3_ENDPOINT: where the signed URLs point) did not answer from this machine, ' +
      'so what a browser gets from it could not be checked; this says nothing about the CORS rules. Check that setting, ' +
      'or run the check from a machine that reaches the endpoint as browsers do.')
  }
  if (failed.length > 0) return 1
  out.log('A page on any origin can follow the redirect to this bucket and read the replay.')
  return 0
}
