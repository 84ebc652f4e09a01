// npm run check: the settings' backends, asked once, a line per check. The
// entry point is spawned for its exit codes; the other cases run in-process.
import { sql } from 'kysely'
import t from 'tap'
import { runCheck } from '../../src/checks/command.js'
import { createPostgresDatabase, MACHINE_POSTGRES, openTestBucket, postgresMissing, requireRealPart, type TestS3 } from '../helper.js'
import { closedPort } from '../support/silent-server.js'
import { spawnEntry } from '../support/spawn-service.js'

/** The command in this process: its exit code and what it printed. Credentials come from the env given, as the SDK's chain would take them. */
async function check (env: Record<string, string | undefined>, options: { args?: string[], credentials?: Parameters<typeof runCheck>[0]['credentials'] } = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  const stdout: string[] = []
  const stderr: string[] = []
  const fromEnv = env.AWS_ACCESS_KEY_ID === undefined ? undefined : { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '' }
  const code = await runCheck({ args: options.args ?? [], env, credentials: options.credentials ?? fromEnv, out: { log: (line) => stdout.push(line), error: (line) => stderr.push(line) } })
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') }
}

function envFor (url: string, s3: TestS3): Record<string, string> {
  return {
    DATABASE_URL: url,
    S3_BUCKET: s3.s3.bucket,
    S3_ENDPOINT: s3.s3.endpoint as string,
    S3_REGION: s3.s3.region,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey
  }
}

t.test('backends that do not answer: every check fails, quickly, exit 1', async (t) => {
  const port = await closedPort()
  const run = spawnEntry('cli/check.ts', {
    DATABASE_URL: `postgres://app:hunter2@127.0.0.1:${port}/games`,
    DATABASE_TIMEOUT_MS: '1000',
    S3_BUCKET: 'replays',
    S3_ENDPOINT: `http://127.0.0.1:${port}`,
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret'
  })
  t.equal((await run.exited).code, 1)
  const out = run.stdout()
  t.match(out, new RegExp(`^Database postgres://app:\\*\\*\\*@127\\.0\\.0\\.1:${port}/games; Bucket replays at http://127\\.0\\.0\\.1:${port}\\n`))
  t.match(out, /\n {2}fail {2}database: unreachable: .*ECONNREFUSED/)
  t.match(out, /\n {2}fail {2}games table: .*ECONNREFUSED/)
  t.match(out, /\n {2}fail {2}S3: unreachable: ECONNREFUSED/)
  t.match(out, /\n {2}fail {2}CORS GET: S3's public endpoint http:\/\/127\.0\.0\.1:\d+ did not answer from this machine/)
  t.match(out, /\n\d check\(s\) failed\.$/m)
  t.notMatch(out, /hunter2/, 'the password is not printed')
})

const postgres = await postgresMissing(MACHINE_POSTGRES)
const skip = requireRealPart(t, 'the passing check against PostgreSQL', postgres)

t.test('a migrated database and a bucket with the project\'s rules: every check passes, exit 0; then what each failure says', { skip }, async (t) => {
  const [{ db, url }, s3] = await Promise.all([createPostgresDatabase(t, MACHINE_POSTGRES), openTestBucket(t)])
  const run = spawnEntry('cli/check.ts', envFor(url, s3))
  t.same(await run.exited, { code: 0, signal: null }, run.stdout() + run.stderr())
  const bucketName = s3.s3.bucket.replaceAll('.', '\\.')
  t.match(run.stdout(), new RegExp(`\\n {2}ok {4}database: answers, every migration applied\\n {2}ok {4}games table: answers the lookups' query\\n {2}ok {4}S3: the credentials are taken and the bucket ${bucketName} answers\\n {2}ok {4}CORS stored rules: .*\\n {2}ok {4}CORS preflight: .*\\n {2}ok {4}CORS GET: .*\\nEvery check passed\\.\\n$`))

  // No credentials at all (the SDK's chain came up empty): S3 and the live checks say so.
  const none = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' })
  const anonymous = await check(envFor(url, s3), { credentials: async () => { throw none } })
  t.equal(anonymous.code, 1)
  t.match(anonymous.stdout, /fail {2}S3: misconfigured: no S3 credentials found/)
  t.match(anonymous.stdout, /fail {2}CORS live: no URL could be signed: This instance has no credentials for the replay storage/)

  const noBucket = await check({ ...envFor(url, s3), S3_BUCKET: 'no-such-bucket-here' })
  t.equal(noBucket.code, 1)
  t.match(noBucket.stdout, /fail {2}S3: misconfigured: S3 answered 404 NoSuchBucket/)

  // Never migrated: the tables and the migrations' record gone.
  await sql`drop table replay_variants; drop table games; drop table replay_gate_migrations`.execute(db)
  const unmigrated = await check(envFor(url, s3))
  t.equal(unmigrated.code, 1)
  t.match(unmigrated.stdout, /fail {2}database: answers, but is not migrated \(pending: .*\): run `npm run db:migrate` with this DATABASE_URL/)
  t.match(unmigrated.stdout, /fail {2}games table: GAMES_TABLE games does not exist: is the database migrated\? Run `npm run db:migrate`/)
  t.match(unmigrated.stdout, /ok {4}S3: /, 'the other checks still run')
})

t.test('usage and settings', async (t) => {
  t.match(await check({}, { args: ['--help'] }), { code: 0, stdout: /^Usage: npm run check/ })
  t.match(await check({}, { args: ['--nope'] }), { code: 2, stderr: /Unknown option '--nope'[\s\S]*Usage:/ })
  t.match(await check({}), { code: 1, stderr: /^check failed: DATABASE_URL and S3_BUCKET are not set\. Local mode/ })
  t.match(await check({ DATABASE_URL: 'postgres://db/x', S3_BUKET: 'replays' }), { code: 1, stderr: /^check failed: Invalid configuration:\n {2}- S3_BUCKET is missing \(S3_BUKET is set: did you mean S3_BUCKET\?\)/ })
})
