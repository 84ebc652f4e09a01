import { S3Client } from '@aws-sdk/client-s3'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { S3Config } from '../../src/config/index.js'
import { MAX_CACHED_URLS } from '../../src/signing/replay-urls.js'
import { directReads } from '../../src/storage/direct-reads.js'
import { openStorage } from '../../src/storage/open-storage.js'
import type { ReplayStorage } from '../../src/storage/replay-storage.js'
import { CLOCK_SKEW_SECONDS, S3UrlSigner } from '../../src/storage/s3-url-signer.js'
import { SocketReads } from '../../src/storage/socket-reads/index.js'
import { openTestBucket } from '../helper.js'
import { closedPort, silentPort } from '../support/silent-server.js'

const s3: S3Config = {
  bucket: 'replays',
  region: 'eu-west-3',
  endpoint: 'http://s3.internal:9000',
  publicEndpoint: 'https://cdn.example.com',
  forcePathStyle: true,
  keyPrefix: '',
  connectTimeoutMs: 1000,
  firstByteTimeoutMs: 1000
}
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' }
const object = { key: 'season 1/game-42/replay.json', contentDisposition: 'attachment; filename="game-42.replay.json"', contentType: 'application/json' }
const at = new Date('2026-11-26T10:20:30.999Z')

function storageFor (overrides: Partial<S3Config> = {}, presignTtlSeconds = 300): ReplayStorage {
  const storage = openStorage({ s3: { ...s3, ...overrides }, presignTtlSeconds, credentials })
  t.teardown(() => storage.close())
  return storage
}

t.test('a GET URL for the public endpoint, signing only host, with no checksum parameters', async (t) => {
  const signed = await storageFor().urls.presign(object, { now: at })
  const url = new URL(signed.url)
  t.equal(url.origin, 'https://cdn.example.com', 'the public endpoint, not the one the service uses')
  t.equal(url.pathname, '/replays/season%201/game-42/replay.json')
  const params = Object.fromEntries(url.searchParams)
  t.match(params, {
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': 'AKIDEXAMPLE/20261126/eu-west-3/s3/aws4_request',
    'X-Amz-Date': '20261126T101930Z',
    'X-Amz-Expires': '360',
    'X-Amz-SignedHeaders': 'host',
    'X-Amz-Signature': /^[0-9a-f]{64}$/,
    'response-content-disposition': 'attachment; filename="game-42.replay.json"',
    'response-content-type': 'application/json'
  })
  t.notOk(Object.keys(params).some((p) => /checksum/i.test(p)), 'no x-amz-checksum-* parameter')
  t.equal(signed.method, 'GET')
  t.equal(signed.expiresAt.toISOString(), '2026-11-26T10:25:30.000Z', 'whole seconds, as the URL says')
  t.equal(Date.parse(signed.expiresAt.toISOString()), Date.parse('2026-11-26T10:19:30Z') + 360_000,
    'dated a minute early for a clock ahead of S3\'s, and valid a minute longer to make up for it')
  t.equal((await storageFor().urls.presign(object, { now: at })).url, signed.url, 'the same inputs sign the same URL')
})

t.test('an unknown type is left to S3; only GET URLs are signed', async (t) => {
  const typed = await storageFor().urls.presign(object, { now: at })
  const untyped = await storageFor().urls.presign({ ...object, contentType: undefined }, { now: at })
  t.equal(untyped.method, 'GET')
  const params = new URL(untyped.url).searchParams
  t.notOk(params.has('response-content-type'))
  t.equal(params.get('response-content-disposition'), object.contentDisposition)
  t.equal(params.get('x-id'), 'GetObject')
  t.not(params.get('X-Amz-Signature'), new URL(typed.url).searchParams.get('X-Amz-Signature'))
})

t.test('TTL and addressing style follow the settings', async (t) => {
  const week = await storageFor({}, 604_800).urls.presign(object, { now: at })
  t.equal(new URL(week.url).searchParams.get('X-Amz-Expires'), '604800', 'never past SigV4\'s week')
  t.equal(new URL(week.url).searchParams.get('X-Amz-Date'), '20261126T102030Z', 'no room left to date it early')
  t.equal(week.expiresAt.toISOString(), '2026-12-03T10:20:30.000Z')
  const virtualHosted = await storageFor({ forcePathStyle: false }).urls.presign(object, { now: at })
  t.equal(new URL(virtualHosted.url).host, 'replays.cdn.example.com')
  const samePlace = await storageFor({ publicEndpoint: s3.endpoint }).urls.presign(object, { now: at })
  t.equal(new URL(samePlace.url).origin, 'http://s3.internal:9000')
})

const seconds = (iso: string): Date => new Date(iso)
const param = (url: string, name: string): string | null => new URL(url).searchParams.get(name)

t.test('URLs are reused within a window: the same one for every request and every instance', async (t) => {
  const options = { s3, presignTtlSeconds: 300, presignReuseSeconds: 60, credentials }
  const one = openStorage(options)
  const two = openStorage(options)
  t.teardown(() => { one.close(); two.close() })
  const first = await one.urls.presign(object, { now: seconds('2026-11-26T10:21:00.000Z') })
  t.equal(param(first.url, 'X-Amz-Date'), '20261126T102000Z', 'dated at the window\'s start, less the skew allowance')
  t.equal(param(first.url, 'X-Amz-Expires'), String(300 + CLOCK_SKEW_SECONDS))
  t.equal(first.expiresAt.toISOString(), '2026-11-26T10:26:00.000Z', 'valid for the TTL from the window\'s start')

  const later = await one.urls.presign(object, { now: seconds('2026-11-26T10:21:59.999Z') })
  t.equal(later.url, first.url, 'the same URL until the window ends')
  t.equal(later.expiresAt.getTime(), first.expiresAt.getTime())
  t.ok(later.expiresAt.getTime() - Date.parse('2026-11-26T10:21:59.999Z') > (300 - 60) * 1000, 'more than TTL - window is left')
  t.equal((await two.urls.presign(object, { now: seconds('2026-11-26T10:21:30Z') })).url, first.url, 'another instance signs the same URL')

  const next = await one.urls.presign(object, { now: seconds('2026-11-26T10:22:00Z') })
  t.not(next.url, first.url, 'a new window, a new URL')
  t.equal(next.expiresAt.toISOString(), '2026-11-26T10:27:00.000Z')

  t.not((await one.urls.presign({ ...object, contentDisposition: 'attachment; filename="x.json"' }, { now: seconds('2026-11-26T10:22:00Z') })).url, next.url,
    'one per download name')
  t.not((await one.urls.presign({ ...object, contentType: 'text/plain' }, { now: seconds('2026-11-26T10:22:00Z') })).url, next.url, 'one per type')
  t.equal((await one.urls.presign(object, { now: seconds('2026-11-26T10:22:30Z') })).url, next.url, 'the same object again: the same URL')
  t.not((await one.urls.presign({ ...object, key: 'other/key.json' }, { now: seconds('2026-11-26T10:22:00Z') })).url, next.url, 'one per object')
})

t.test('without reuse, every URL is signed when asked for, none kept', async (t) => {
  const storage = storageFor()
  t.equal(storage.urls.reuseSeconds, 0)
  const a = await storage.urls.presign(object, { now: seconds('2026-11-26T10:21:00.100Z') })
  t.equal((await storage.urls.presign(object, { now: seconds('2026-11-26T10:21:00.900Z') })).url, a.url, 'the same second signs the same URL')
  t.not((await storage.urls.presign(object, { now: seconds('2026-11-26T10:21:01.000Z') })).url, a.url)
  t.equal(storage.urls.cachedUrls, 0)
})

t.test('the kept URLs are bounded', async (t) => {
  const storage = openStorage({ s3, presignTtlSeconds: 300, presignReuseSeconds: 60, credentials })
  t.teardown(() => storage.close())
  for (let i = 0; i < MAX_CACHED_URLS + 50; i++) await storage.urls.presign({ ...object, key: `k/${i}` }, { now: at })
  t.equal(storage.urls.cachedUrls, MAX_CACHED_URLS)
})

t.test('a URL never outlives the credentials that signed it', async (t) => {
  // Real times: the SDK's credential cache asks again when the credentials are within minutes of expiring.
  const now = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 1000)
  const windowStart = Math.floor(now.getTime() / 60_000) * 60
  let expiration = new Date((windowStart + 90) * 1000)
  let calls = 0
  const provider = async (): Promise<typeof credentials & { sessionToken: string, expiration: Date }> => {
    calls++
    return { ...credentials, sessionToken: `token-${calls}`, expiration }
  }
  const storage = openStorage({ s3, presignTtlSeconds: 300, presignReuseSeconds: 60, credentials: provider })
  t.teardown(() => storage.close())
  const short = await storage.urls.presign(object, { now })
  t.equal(short.expiresAt.getTime(), expiration.getTime(), 'cut to the credentials\' expiry')
  t.equal(param(short.url, 'X-Amz-Expires'), String(90 + CLOCK_SKEW_SECONDS))
  t.match(param(short.url, 'X-Amz-Security-Token'), /^token-/)

  expiration = new Date((windowStart + 7200) * 1000)
  const renewed = await storage.urls.presign(object, { now })
  t.not(renewed.url, short.url, 'a URL cut short is not reused: fresh credentials sign a full one')
  t.equal(renewed.expiresAt.getTime(), (windowStart + 300) * 1000)
  t.equal((await storage.urls.presign(object, { now })).url, renewed.url, 'and that one is reused')
})

t.test('a server clock a little ahead of or behind S3\'s still hands out URLs that work', async (t) => {
  const bucket = await openTestBucket(t)
  await bucket.put('skew/replay.bin', 'on time')
  const replay = { key: 'skew/replay.bin', contentDisposition: 'attachment; filename="r.bin"', contentType: undefined }
  for (const offsetSeconds of [-50, 0, 50]) {
    const storage = bucket.storage({ presignTtlSeconds: 120 })
    const signed = await storage.urls.presign(replay, { now: new Date(Date.now() + offsetSeconds * 1000) })
    const answer = await fetch(signed.url)
    t.equal(answer.status, 200, `a clock ${offsetSeconds} s off`)
    t.equal(await answer.text(), 'on time')
  }
  // AWS S3 and MinIO refuse a URL dated ahead of their clock ("Request is not yet valid"); Ceph RGW and
  // the emulator do not look, so the minute's margin is asserted on the URL itself.
  const ahead = await bucket.storage({ presignTtlSeconds: 120 }).urls.presign(replay, { now: new Date(Date.now() + 50_000) })
  const dated = String(new URL(ahead.url).searchParams.get('X-Amz-Date')).replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z')
  t.ok(Date.parse(dated) <= Date.now(), 'a clock 50 s ahead still dates its URL in S3\'s past')
})

t.test('readiness probe: a GET that S3 answers with its error code', async (t) => {
  const bucket = await openTestBucket(t)
  t.same(await bucket.storage().probe(5000), { state: 'ok' }, 'NoSuchKey: the bucket, the keys and the signature are right')
  t.same(await bucket.storage({ s3: { keyPrefix: 'some/prefix/' } }).probe(5000), { state: 'ok' })
  await bucket.put('found/replay-gate-readiness-probe', 'an object by that name after all')
  t.same(await bucket.storage({ s3: { keyPrefix: 'found/' } }).probe(5000), { state: 'ok' }, 'an object by the probe\'s name: ready too')
  t.match(await bucket.storage({ s3: { bucket: 'no-such-bucket-here' } }).probe(5000), { state: 'misconfigured', detail: /^S3 answered 404 NoSuchBucket$/ },
    'a bucket that does not exist is this instance\'s setting')
  const wrongSecret = await bucket.storage({ credentials: { ...bucket.credentials, secretAccessKey: 'not-the-secret' } }).probe(5000)
  t.match(wrongSecret, { state: 'misconfigured', detail: /^S3 answered 403 (SignatureDoesNotMatch|InvalidAccessKeyId)$/ }, 'a wrong secret key')
  const wrongKey = await bucket.storage({ credentials: { accessKeyId: 'AKIDNOSUCHKEY', secretAccessKey: 'x' } }).probe(5000)
  t.match(wrongKey, { state: 'misconfigured', detail: /^S3 answered 403 (InvalidAccessKeyId|SignatureDoesNotMatch)$/ }, 'an unknown access key')

  const refused = await storageFor({ endpoint: `http://127.0.0.1:${await closedPort()}` }).probe(2000)
  t.match(refused, { state: 'unreachable', detail: /ECONNREFUSED/ }, 'connection refused')

  const started = Date.now()
  const hung = await storageFor({ endpoint: `http://127.0.0.1:${await silentPort(t)}` }).probe(300)
  t.same(hung, { state: 'unreachable', detail: 'no answer in time' })
  t.ok(Date.now() - started < 5000, 'gives up on a server that accepts and never answers')

  // S3 failing for everyone: an error of its own, or asked to slow down.
  for (const [status, code] of [[500, 'InternalError'], [503, 'SlowDown']] as const) {
    const failing = createServer((_request, response) => {
      response.writeHead(status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>x</Message></Error>`)
    })
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { failing.close() })
    const probe = await storageFor({ endpoint: `http://127.0.0.1:${(failing.address() as AddressInfo).port}` }).probe(5000)
    t.same(probe, { state: 'unreachable', detail: `S3 answered ${status} ${code}` })
  }
})

t.test('the streaming route reads S3 over its own sockets, for http:, https: and AWS\'s own endpoint alike', async (t) => {
  const client = new S3Client({ region: s3.region, credentials })
  t.teardown(() => { client.destroy() })
  const signer = new S3UrlSigner(client, s3.bucket)
  t.ok(directReads(s3, signer, undefined) instanceof SocketReads, 'http://s3.internal:9000')
  t.ok(directReads({ ...s3, endpoint: 'https://s3.internal:9000' }, signer, undefined) instanceof SocketReads, 'an https: endpoint')
  t.ok(directReads({ ...s3, endpoint: undefined }, signer, undefined) instanceof SocketReads, 'AWS itself')
})
