import { DeleteBucketCorsCommand, type S3Client } from '@aws-sdk/client-s3'
import { createServer as createHttpServer } from 'node:http'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { readBucketCors, type CorsRule } from '../../src/bucket/cors-rules.js'
import { analyzeCorsRules, applyBucketCors, describeBucket, checkLiveCors, checkStoredCors, ensureBucket, type Finding } from '../../src/bucket/cors-checks.js'
import { openTestBucket, realS3Endpoint, uniqueName, type Tap, type TestS3 } from '../helper.js'
import { closedPort, silentPort } from '../support/silent-server.js'
import { describeSetupFailure, runBucketSetup } from '../../src/bucket/setup-command.js'
import { deleteBucket } from '../support/buckets.js'
import { spawnEntry } from '../support/spawn-service.js'

const projectRule = (): CorsRule => readBucketCors().CORSRules[0] as CorsRule
const levels = (findings: Finding[]): string[] => findings.map((f) => f.level)
const failures = (findings: Finding[]): string => findings.filter((f) => f.level === 'fail').map((f) => f.detail).join(' | ')

t.test('the bucket, described for people', async (t) => {
  t.equal(describeBucket({ bucket: 'b', region: 'eu-west-3', endpoint: undefined, publicEndpoint: undefined }), 'Bucket b at AWS S3 (eu-west-3)')
  t.equal(describeBucket({ bucket: 'b', region: 'eu-west-3', endpoint: 'http://rgw:7480', publicEndpoint: 'https://cdn.example' }),
    'Bucket b at http://rgw:7480, public endpoint https://cdn.example')
  t.equal(describeBucket({ bucket: 'b', region: 'eu-west-3', endpoint: 'http://rgw:7480', publicEndpoint: undefined }),
    'Bucket b at http://rgw:7480, public endpoint AWS S3 (eu-west-3)')
})

t.test('judging stored rules', async (t) => {
  t.same(levels(analyzeCorsRules(readBucketCors().CORSRules)), ['ok'], 'the project\'s own rules pass')
  t.match(analyzeCorsRules(undefined), [{ level: 'fail', detail: /no CORS rules/ }])
  t.match(analyzeCorsRules([]), [{ level: 'fail', detail: /no CORS rules/ }])

  const named = { ...projectRule(), AllowedOrigins: ['https://game.example', 'http://*.example.com'] }
  t.match(analyzeCorsRules([named]), [
    { level: 'fail', detail: /GET from every origin.*Origin: null/ },
    { level: 'fail', detail: /HEAD from every origin/ }
  ], 'named origins never match the null origin of a redirected fetch')
  t.same(levels(analyzeCorsRules([{ ...projectRule(), AllowedOrigins: ['null'] }])), ['ok'], 'the literal null origin is enough')

  const getOnly = { ...projectRule(), AllowedMethods: ['get'] }
  t.match(analyzeCorsRules([getOnly]), [{ level: 'fail', detail: /HEAD/ }])

  t.match(analyzeCorsRules([{ ...projectRule(), AllowedHeaders: ['Range'] }]), [{ level: 'fail', detail: 'AllowedHeaders lacks If-None-Match, If-Modified-Since: a page sending them is refused at the preflight' }])
  t.match(analyzeCorsRules([{ ...projectRule(), AllowedHeaders: undefined }]), [{ level: 'fail', detail: /Range, If-None-Match, If-Modified-Since/ }])
  t.same(levels(analyzeCorsRules([{ ...projectRule(), AllowedHeaders: ['*'] }])), ['ok'], 'a wildcard allows every header')
  t.same(levels(analyzeCorsRules([{ ...projectRule(), AllowedHeaders: ['if-*', 'RANGE'] }])), ['ok'], 'patterns and any case')

  t.match(analyzeCorsRules([{ ...projectRule(), ExposeHeaders: ['etag'] }]), [{ level: 'fail', detail: 'ExposeHeaders lacks Content-Length, Content-Range, Accept-Ranges, Content-Disposition: a page cannot read them' }])
  t.match(analyzeCorsRules([{ ...projectRule(), ExposeHeaders: undefined }]), [{ level: 'fail', detail: /ETag/ }])

  // S3 applies the first rule matching origin and method, so an earlier narrow rule shadows a later good one.
  const narrow = { AllowedOrigins: ['*'], AllowedMethods: ['GET'] }
  t.match(analyzeCorsRules([narrow, projectRule()]), [{ level: 'fail', detail: /AllowedHeaders lacks/ }, { level: 'fail', detail: /ExposeHeaders lacks/ }])
})

/** A bucket name on the test's S3 that nothing has made yet, removed (with its objects) afterwards. */
function freshBucket (t: Tap, client: S3Client): string {
  const bucket = uniqueName('setup')
  t.teardown(async () => { await deleteBucket(client, bucket) })
  return bucket
}

t.test('on a real bucket: create, apply, check, and see a removed rule set fail', async (t) => {
  const s3 = await openTestBucket(t)
  const { admin } = s3
  const bucket = freshBucket(t, admin)
  const storage = s3.storage({ s3: { bucket } })

  t.match(await checkStoredCors(admin, bucket), [{ level: 'fail', detail: `the bucket ${bucket} does not exist` }])
  t.equal(await ensureBucket(admin, bucket, 'us-east-1'), 'created')
  t.equal(await ensureBucket(admin, bucket, 'us-east-1'), 'existed', 'a second run leaves it as it is')

  t.match(await checkStoredCors(admin, bucket), [{ level: 'fail', detail: /no CORS rules/ }])
  const before = await checkLiveCors({ storage, key: 'any/key.rep', timeoutMs: 5000 })
  t.same(levels(before), ['fail', 'fail'], 'without rules S3 refuses the preflight and the GET carries no CORS headers')
  t.match(failures(before), /Access-Control-Allow-Origin is missing/)

  await applyBucketCors(admin, bucket, readBucketCors())
  t.same(levels(await checkStoredCors(admin, bucket)), ['ok'])
  const missing = await checkLiveCors({ storage, key: 'not/there.rep', timeoutMs: 5000 })
  t.same(levels(missing), ['ok', 'ok'], failures(missing))
  t.match(missing[1]?.detail, /answered 404, readable by the page/, 'a missing object is answered with the CORS headers too')

  await admin.send(new DeleteBucketCorsCommand({ Bucket: bucket }))
  t.match(await checkStoredCors(admin, bucket), [{ level: 'fail', detail: /no CORS rules/ }])

  await applyBucketCors(admin, bucket, { CORSRules: [{ ...projectRule(), AllowedOrigins: ['https://game.example'] }] })
  const named = await checkLiveCors({ storage, key: 'k', timeoutMs: 5000 })
  t.same(levels(named), ['fail', 'fail'], 'rules for named origins only do not serve the null origin')
})

t.test('a GET check on an existing object reads its headers', async (t) => {
  const s3 = await openTestBucket(t)
  await s3.put('games/1/a.rep', Buffer.alloc(1000, 1))
  const found = await checkLiveCors({ storage: s3.storage(), key: 'games/1/a.rep', timeoutMs: 5000 })
  t.same(levels(found), ['ok', 'ok'], failures(found))
  t.match(found[1]?.detail, /answered 206/)
})

t.test('the checks name an S3 that does not answer, and one that cannot be reached', async (t) => {
  const s3 = await openTestBucket(t)
  const hung = s3.storage({ s3: { publicEndpoint: `http://127.0.0.1:${await silentPort(t)}` } })
  const slow = await checkLiveCors({ storage: hung, key: 'k', timeoutMs: 300 })
  const here = /^S3's public endpoint http:\/\/127\.0\.0\.1:\d+ did not answer from this machine: /
  t.match(slow, [{ check: 'preflight', level: 'fail', noAnswer: true, detail: here }, { check: 'GET', level: 'fail', noAnswer: true }])
  t.match(slow[0]?.detail, /: no answer within 300 ms$/)
  const gone = s3.storage({ s3: { publicEndpoint: `http://127.0.0.1:${await closedPort()}` } })
  t.match(await checkLiveCors({ storage: gone, key: 'k', timeoutMs: 2000 }), [
    { noAnswer: true, detail: /did not answer from this machine: the connection was refused \(ECONNREFUSED\)$/ },
    { noAnswer: true, detail: /ECONNREFUSED/ }
  ])
  // A server that hangs up on every connection: the system's code, as it is.
  const rude = createServer((socket) => { socket.destroy() })
  await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { rude.close() })
  const hungUp = s3.storage({ s3: { publicEndpoint: `http://127.0.0.1:${(rude.address() as AddressInfo).port}` } })
  t.match(await checkLiveCors({ storage: hungUp, key: 'k', timeoutMs: 5000 }), [
    { noAnswer: true, detail: /did not answer from this machine: fetch failed \(UND_ERR_SOCKET\)$/ },
    { noAnswer: true }
  ])
  // A name that no resolver knows (.invalid is reserved for that): without DNS at all, the lookup fails too.
  const unknown = s3.storage({ s3: { publicEndpoint: 'http://replays.invalid:9000' } })
  t.match(await checkLiveCors({ storage: unknown, key: 'k', timeoutMs: 5000 }), [
    { noAnswer: true, detail: /^S3's public endpoint http:\/\/replays\.invalid:9000 did not answer from this machine: .*\((ENOTFOUND|EAI_AGAIN)\)$/ },
    { noAnswer: true }
  ])
})

t.test('rules that cannot be read are a warning; a refused HeadBucket is an error', async (t) => {
  const s3 = await openTestBucket(t)
  const stranger = s3.client({ accessKeyId: 'nobody', secretAccessKey: 'wrong' })
  t.match(await checkStoredCors(stranger, s3.s3.bucket), [{ level: 'warn', detail: /could not read them \(\w+\); the live checks below decide/ }])
  await t.rejects(ensureBucket(stranger, s3.s3.bucket, 'us-east-1'), 'only a missing bucket is created')
})

t.test('a bucket outside us-east-1 is created with its location', async (t) => {
  const s3 = await openTestBucket(t)
  const { admin } = s3
  const bucket = freshBucket(t, admin)
  if (realS3Endpoint === undefined) {
    t.equal(await ensureBucket(admin, bucket, 'eu-west-1'), 'created')
  } else {
    // Ceph knows only its own zonegroup, so the constraint is refused by name: proof that it was sent.
    await t.rejects(ensureBucket(admin, bucket, 'eu-west-1'), { name: /InvalidLocationConstraint|IllegalLocationConstraintException/ })
  }
})

/** The command in this process: its exit code and what it printed. Credentials come from the env given, as the SDK's chain would take them. */
async function cli (env: Record<string, string>, args: string[] = []): Promise<{ code: number, stdout: string, stderr: string }> {
  const stdout: string[] = []
  const stderr: string[] = []
  const credentials = env.AWS_ACCESS_KEY_ID === undefined ? undefined : { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '' }
  const code = await runBucketSetup({ args, env, credentials, out: { log: (line) => stdout.push(line), error: (line) => stderr.push(line) } })
  return { code, stdout: stdout.map((line) => `${line}\n`).join(''), stderr: stderr.map((line) => `${line}\n`).join('') }
}

function cliEnv (s3: TestS3, bucket: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    S3_BUCKET: bucket,
    S3_ENDPOINT: s3.s3.endpoint as string,
    S3_REGION: s3.s3.region,
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    ...extra
  }
}

t.test('npm run bucket:setup, then --check, then --check on rules that were removed', async (t) => {
  const s3 = await openTestBucket(t)
  const { admin } = s3
  const bucket = freshBucket(t, admin)
  const env = cliEnv(s3, bucket)

  const first = await cli(env, ['--check'])
  t.match(first, { code: 1 }, 'checking a bucket that is not there fails')
  t.match(first.stdout, new RegExp(`fail  stored rules: the bucket ${bucket} does not exist`))
  t.match(first.stdout, /Run `npm run bucket:setup` to apply/)

  const setup = await cli(env)
  t.match(setup, { code: 0 }, setup.stderr)
  t.match(setup.stdout, /bucket: created\n {2}CORS: applied 1 rule\(s\) from .*localstack\/bucket-cors\.json/)
  t.match(setup.stdout, /ok {4}stored rules: .*\n {2}ok {4}preflight: .*\n {2}ok {4}GET: a signed GET of replay-gate-cors-check with Origin: null answered 404/)
  t.match(setup.stdout, /A page on any origin can follow the redirect/)

  const second = await cli(env)
  t.match(second, { code: 0 })
  t.match(second.stdout, /bucket: already there\n/, 'a second run changes nothing but the rules')

  const again = await cli({ ...env, S3_KEY_PREFIX: 'replays/' }, ['--check', '--key', 'replays/x.rep'])
  t.match(again, { code: 0 })
  t.match(again.stdout, /Bucket setup-\S+ at http:\/\/127\.0\.0\.1:\d+\nChecks:/, '--check changes nothing')
  t.match(again.stdout, /signed GET of replays\/x\.rep/)

  await admin.send(new DeleteBucketCorsCommand({ Bucket: bucket }))
  const broken = await cli(env, ['--check'])
  t.match(broken, { code: 1 })
  t.match(broken.stdout, /fail {2}stored rules: the bucket has no CORS rules/)
  t.match(broken.stdout, /fail {2}preflight: OPTIONS with Origin: null and a Range header was refused/)
  t.match(broken.stdout, /would break downloads in a browser/)

  // Not --check: the rules are applied again, but browsers could not reach S3 where the URLs point.
  const publicEndpoint = await cli({ ...env, S3_PUBLIC_ENDPOINT: `http://127.0.0.1:${await closedPort()}` })
  t.match(publicEndpoint, { code: 1 })
  t.notMatch(publicEndpoint.stdout, /Run `npm run bucket:setup`/, 'no advice to run what just ran')
  t.match(publicEndpoint.stdout, /, public endpoint http:\/\/127\.0\.0\.1:\d+\n/)
  t.match(publicEndpoint.stdout, /fail {2}GET: S3's public endpoint http:\/\/127\.0\.0\.1:\d+ did not answer from this machine: the connection was refused \(ECONNREFUSED\)/)
  const blamesEndpoint = /S3's public endpoint \(S3_PUBLIC_ENDPOINT, else S3_ENDPOINT: where the signed URLs point\) did not answer from this machine, .* this says nothing about the CORS rules/
  t.match(publicEndpoint.stdout, blamesEndpoint)
  t.notMatch(publicEndpoint.stdout, /would break downloads/, 'the rules are not blamed for an endpoint that did not answer')

  // --check from a machine that cannot reach the public endpoint: the stored rules are fine, and only the endpoint is named.
  const unreachable = await cli({ ...env, S3_PUBLIC_ENDPOINT: `http://127.0.0.1:${await closedPort()}` }, ['--check'])
  t.match(unreachable, { code: 1 })
  t.match(unreachable.stdout, /ok {4}stored rules: /)
  t.match(unreachable.stdout, blamesEndpoint)
  t.notMatch(unreachable.stdout, /would break downloads|Run `npm run bucket:setup`/)

  // A public endpoint that answers without CORS headers (a proxy that drops them): the rules were applied, yet a browser is refused.
  const proxy = createHttpServer((_request, response) => { response.end('not S3') })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { proxy.close() })
  const stripped = await cli({ ...env, S3_PUBLIC_ENDPOINT: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` })
  t.match(stripped, { code: 1 })
  t.match(stripped.stdout, /fail {2}GET: a signed GET of replay-gate-cors-check with Origin: null answered 200: Access-Control-Allow-Origin is missing/)
  t.match(stripped.stdout, /would break downloads in a browser that follows the redirect\.\n/)
  t.notMatch(stripped.stdout, /Run `npm run bucket:setup`|did not answer/, 'no advice to run what just ran')

  // Both at once: each is said.
  await admin.send(new DeleteBucketCorsCommand({ Bucket: bucket }))
  const both = await cli({ ...env, S3_PUBLIC_ENDPOINT: `http://127.0.0.1:${await closedPort()}` }, ['--check'])
  t.match(both, { code: 1 })
  t.match(both.stdout, /fail {2}stored rules: the bucket has no CORS rules/)
  t.match(both.stdout, /would break downloads in a browser that follows the redirect\. Run `npm run bucket:setup`/)
  t.match(both.stdout, blamesEndpoint)
})

t.test('bucket:setup refuses bad usage and bad settings, and names them', async (t) => {
  // The entry point itself, as npm runs it.
  const help = spawnEntry('cli/bucket-setup.ts', {}, ['--help'])
  t.match(await help.exited, { code: 0 })
  t.match(help.stdout(), /^Usage: npm run bucket:setup/)

  const bad = await cli({}, ['--chek'])
  t.match(bad, { code: 2 })
  t.match(bad.stderr, /Unknown option '--chek'[\s\S]*Usage:/)

  const local = await cli({ S3_BUKET: 'replays' })
  t.match(local, { code: 1 })
  t.match(local.stderr, /S3_BUCKET is not set \(S3_BUKET is set: did you mean S3_BUCKET\?\)/)

  const region = await cli({ S3_BUCKET: 'replays', S3_REGION: 'Europe!' })
  t.match(region, { code: 1 })
  t.match(region.stderr, /bucket:setup failed: Invalid configuration:\n {2}- S3_REGION must be a region name/)

  const down = await cli({ S3_BUCKET: 'replays', S3_ENDPOINT: `http://127.0.0.1:${await closedPort()}`, AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' })
  t.match(down, { code: 1 })
  t.match(down.stderr, /bucket:setup failed: S3 did not answer: ECONNREFUSED.* \(is S3_ENDPOINT right, and S3 up\?\)/)
})

t.test('bucket:setup with a wrong secret key names S3\'s answer, not "UnknownError"', async (t) => {
  const s3 = await openTestBucket(t)
  const wrong = await cli(cliEnv(s3, s3.s3.bucket, { AWS_SECRET_ACCESS_KEY: 'not-the-secret' }))
  t.match(wrong, { code: 1 })
  t.match(wrong.stderr, /^bucket:setup failed: S3 answered 403, error code \w+: the credentials are refused, or may not do this \(check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY/)
  t.notMatch(wrong.stderr, /UnknownError/)
})

t.test('describeSetupFailure: an answer with a code, and a status without a known cause', async (t) => {
  const answered = (status: number, name: string): Error => Object.assign(new Error('x'), { name, $metadata: { httpStatusCode: status } })
  t.equal(describeSetupFailure(answered(404, 'NoSuchBucket')), 'S3 answered 404, error code NoSuchBucket: no such bucket, or S3_ENDPOINT is not an S3 server')
  t.equal(describeSetupFailure(answered(500, 'InternalError')), 'S3 answered 500, error code InternalError')
})
