// The whole way through a CDN: the service with the CloudFront signer answers
// 302, the client follows to a stand-in distribution that checks the canned
// policy and fetches from S3 as its origin (test/support/stand-in-cdn.ts).
// Node's fetch and wget, against the embedded emulator or the real S3 of
// TEST_S3_ENDPOINT; and the service as its own process, its settings read
// from the environment, on the machine's PostgreSQL.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { GamesRepository } from '../../src/db/games.js'
import { CloudFrontUrlSigner } from '../../src/signing/cloudfront-signer.js'
import { buildTestApp, createPostgresDatabase, describeBackends, listen, MACHINE_POSTGRES, openTestBucket, postgresMissing, requireRealPart, seedReplays, testConfig } from '../helper.js'
import { sha256 } from '../support/bytes.js'
import { testKeyPair } from '../support/cloudfront-policy.js'
import { jsonReplay, storeVariants } from '../support/compressed-replays.js'
import { spawnEntry } from '../support/spawn-service.js'
import { startStandInCdn } from '../support/stand-in-cdn.js'

const run = promisify(execFile)
const KEY_PAIR_ID = 'K2JCJMDEHXQW5F'
const wgetMissing = ['/usr/bin', '/usr/local/bin', '/bin'].some((dir) => existsSync(join(dir, 'wget'))) ? undefined : 'wget is not installed (Debian: wget)'
const replay = randomBytes(9 * 1024 * 1024 + 321)
const digest = sha256(replay)
const NAME = 'game-1.replay.bin'
// A folder with characters S3 escapes and encodeURIComponent does not: the CDN's URL must reach the same key.
const FOLDER = 'season 3/game (1)!'

t.test('the service hands out CDN URLs; clients download through the distribution', async (t) => {
  t.comment(`backends: ${describeBackends()}`)
  const json = jsonReplay(1024 * 1024)
  const { db, bucket } = await seedReplays(t, [
    { id: '1', game_folder: FOLDER, replay_file: 'match.bin', body: replay },
    { id: '2', game_folder: FOLDER, replay_file: 'replay.json', body: json, contentType: 'application/json' }
  ])
  await storeVariants(db, bucket, { gameId: '2', key: `${FOLDER}/replay.json`, replay: json, encodings: ['gzip', 'br'] })
  const keys = await testKeyPair(t)
  const cdn = await startStandInCdn(t, { publicKey: keys.publicKey, keyPairId: KEY_PAIR_ID, s3: { client: bucket.admin, bucket: bucket.s3.bucket }, pathPrefix: '/replays' })
  const signer = new CloudFrontUrlSigner({ url: cdn.url, keyPairId: KEY_PAIR_ID, privateKey: keys.privateKey })
  const base = await listen(await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage({ signer, presignReuseSeconds: 60 }) }))
  const redirect = `${base}/games/1/replay`
  const work = await mkdtemp(join(tmpdir(), 'replay-gate-cdn-'))
  t.teardown(() => rm(work, { recursive: true, force: true }))

  t.test('the 302 points at the distribution; fetch follows it and reads the bytes', async (t) => {
    const answer = await fetch(redirect, { redirect: 'manual' })
    t.equal(answer.status, 302)
    const location = answer.headers.get('location') as string
    t.ok(location.startsWith(`${cdn.url}/season%203/game%20%281%29%21/match.bin?response-content-disposition=`), `the distribution's URL: ${location}`)
    t.equal(answer.headers.get('x-replay-delivery'), 'redirect')
    const followed = await fetch(redirect)
    t.equal(followed.status, 200)
    t.ok(followed.redirected)
    t.equal(followed.headers.get('content-disposition'), `attachment; filename="${NAME}"`, 'S3 answered the response-* parameters the distribution passed on')
    t.equal(followed.headers.get('via'), '1.1 stand-in-cdn')
    t.equal(sha256(Buffer.from(await followed.arrayBuffer())), digest, 'the bytes stored')
    const part = await fetch(redirect, { headers: { range: 'bytes=1000-1999' } })
    t.equal(part.status, 206)
    t.equal(part.headers.get('content-range'), `bytes 1000-1999/${replay.length}`)
    t.equal(sha256(Buffer.from(await part.arrayBuffer())), sha256(replay.subarray(1000, 2000)), 'a range, passed on to S3')
  })

  t.test('a HEAD of the handed-out URL works: the signature is not bound to a method', async (t) => {
    const { url } = await (await fetch(`${redirect}/url`)).json() as { url: string }
    const head = await fetch(url, { method: 'HEAD' })
    t.equal(head.status, 200)
    t.equal(head.headers.get('content-length'), String(replay.length))
    t.equal(head.headers.get('content-disposition'), `attachment; filename="${NAME}"`)
    const get = await fetch(url)
    t.equal(get.status, 200, 'and the GET of the same URL')
    t.equal(sha256(Buffer.from(await get.arrayBuffer())), digest)
  })

  t.test('a compressed variant through the distribution: its URL fixes the coding, the client decodes it', async (t) => {
    const answer = await fetch(`${base}/games/2/replay`, { redirect: 'manual', headers: { 'accept-encoding': 'gzip, deflate, br' } })
    const location = new URL(answer.headers.get('location') as string)
    t.ok(location.pathname.endsWith('/replay.json.variant-gzip'), 'gzip\'s object: br only through an https: distribution')
    t.equal(location.searchParams.get('response-content-encoding'), 'gzip')
    const before = cdn.exchanges.length
    const followed = await fetch(`${base}/games/2/replay`, { headers: { 'accept-encoding': 'gzip, deflate, br' } })
    t.equal(followed.headers.get('content-encoding'), 'gzip', 'S3 answered with the coding the URL fixed')
    t.equal(followed.headers.get('content-disposition'), 'attachment; filename="game-2.replay.json"')
    t.equal(sha256(Buffer.from(await followed.arrayBuffer())), sha256(json), 'decoded by fetch: the replay itself')
    t.same(cdn.exchanges.slice(before).map((e) => `${e.method} ${e.status}`), ['GET 200'])
  })

  t.test('the distribution refuses a URL out of date, altered, or signed by another key', async (t) => {
    const object = { key: `${FOLDER}/match.bin`, contentDisposition: `attachment; filename="${NAME}"`, contentType: 'application/octet-stream' }
    const expired = signer.sign(object, Math.floor(Date.now() / 1000) - 1)
    t.equal((await fetch(expired)).status, 403, 'expired')
    const valid = signer.sign(object, Math.floor(Date.now() / 1000) + 60)
    const inDate = await fetch(valid, { headers: { range: 'bytes=0-9' } })
    t.equal(inDate.status, 206, 'the same, in date')
    await inDate.arrayBuffer()
    t.equal((await fetch(valid.replace('filename%3D%22', 'filename%3D%22x'))).status, 403, 'another download name')
    const other = await testKeyPair(t)
    const forged = new CloudFrontUrlSigner({ url: cdn.url, keyPairId: KEY_PAIR_ID, privateKey: other.privateKey }).sign(object, Math.floor(Date.now() / 1000) + 60)
    t.equal((await fetch(forged)).status, 403, 'signed by a key the distribution does not trust')
    t.match(cdn.exchanges.filter((e) => e.status === 403).map((e) => e.refused), [/expired/, /signature/, /signature/])
  })

  t.test('wget -c --content-disposition through the redirect resumes under its name', { skip: requireRealPart(t, 'wget through the CDN', wgetMissing) }, async (t) => {
    const named = await mkdtemp(join(work, 'named-'))
    await run('wget', ['-q', '--content-disposition', redirect], { cwd: named })
    t.same(await readdir(named), [NAME], '--content-disposition: saved under its name')
    t.equal(sha256(await readFile(join(named, NAME))), digest)
    const resumed = await mkdtemp(join(work, 'resumed-'))
    await writeFile(join(resumed, NAME), replay.subarray(0, 4_000_000))
    const before = cdn.exchanges.length
    await run('wget', ['-q', '-c', '--content-disposition', redirect], { cwd: resumed })
    t.same(await readdir(resumed), [NAME], '-c --content-disposition after a cut: the same file')
    t.equal(sha256(await readFile(join(resumed, NAME))), digest, 'resumed to the whole replay')
    const seen = cdn.exchanges.slice(before).map((e) => `${e.method} ${e.status} ${e.range ?? ''}`.trim())
    t.ok(seen.includes('HEAD 200'), `the distribution answered wget's HEAD of the signed URL (${seen.join(', ')})`)
    t.ok(seen.includes('GET 206 bytes=4000000-'), 'and its ranged GET')
  })
})

t.test('the service as its own process: CLOUDFRONT_* from the environment, and a partial set refused', async (t) => {
  const partial = spawnEntry('server.ts', { DATABASE_URL: 'postgres://127.0.0.1:5432/x', S3_BUCKET: 'replays', CLOUDFRONT_URL: 'https://d111111abcdef8.cloudfront.net' })
  t.equal((await partial.exited).code, 1)
  t.match(partial.stderr(), /CLOUDFRONT_KEY_PAIR_ID is missing/)
  t.match(partial.stderr(), /CLOUDFRONT_PRIVATE_KEY_FILE is missing/)

  if (requireRealPart(t, 'PostgreSQL for the service as its own process', await postgresMissing(MACHINE_POSTGRES)) !== false) return
  const { db, url } = await createPostgresDatabase(t, MACHINE_POSTGRES)
  const bucket = await openTestBucket(t)
  await new GamesRepository(db).insert([{ id: '1', game_folder: FOLDER, replay_file: 'match.bin' }])
  await bucket.put(`${FOLDER}/match.bin`, replay)
  const keys = await testKeyPair(t)
  const cdn = await startStandInCdn(t, { publicKey: keys.publicKey, keyPairId: KEY_PAIR_ID, s3: { client: bucket.admin, bucket: bucket.s3.bucket } })
  const service = spawnEntry('server.ts', {
    PORT: '0',
    DATABASE_URL: url,
    S3_BUCKET: bucket.s3.bucket,
    S3_ENDPOINT: bucket.s3.endpoint as string,
    S3_REGION: bucket.s3.region,
    AWS_ACCESS_KEY_ID: bucket.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: bucket.credentials.secretAccessKey,
    CLOUDFRONT_URL: cdn.url,
    CLOUDFRONT_KEY_PAIR_ID: KEY_PAIR_ID,
    CLOUDFRONT_PRIVATE_KEY_FILE: keys.file,
    LOG_LEVEL: 'info'
  })
  const [, base] = await service.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)
  const [started] = await service.waitFor(/\{[^\n]*serving replays[^\n]*\}/)
  t.match(JSON.parse(started), { cdn: cdn.url }, 'the start names the distribution')
  const answer = await fetch(`${base as string}/games/1/replay`, { redirect: 'manual' })
  t.equal(answer.status, 302)
  t.ok(answer.headers.get('location')?.startsWith(`${cdn.url}/`), 'a URL of the distribution')
  const followed = await fetch(`${base as string}/games/1/replay`)
  t.equal(sha256(Buffer.from(await followed.arrayBuffer())), digest, 'downloaded through it')
  service.child.kill('SIGTERM')
  t.same(await service.exited, { code: 0, signal: null })
  const printed = `${service.stdout()}${service.stderr()}`
  const secretLines = keys.pem.split('\n').filter((line) => line !== '' && !line.startsWith('-----'))
  t.notOk(secretLines.some((line) => printed.includes(line)), 'nothing of the private key in what it printed')
})
