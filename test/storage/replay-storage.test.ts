import t from 'tap'
import type { S3Config } from '../../src/config.js'
import { ReplayStorage } from '../../src/storage/replay-storage.js'
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
  const storage = new ReplayStorage({ s3: { ...s3, ...overrides }, presignTtlSeconds, credentials })
  t.teardown(() => storage.close())
  return storage
}

t.test('a GET URL for the public endpoint, signing only host, with no checksum parameters', async (t) => {
  const signed = await storageFor().presign(object, 'GET', at)
  const url = new URL(signed.url)
  t.equal(url.origin, 'https://cdn.example.com', 'the public endpoint, not the one the service uses')
  t.equal(url.pathname, '/replays/season%201/game-42/replay.json')
  const params = Object.fromEntries(url.searchParams)
  t.match(params, {
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': 'AKIDEXAMPLE/20261126/eu-west-3/s3/aws4_request',
    'X-Amz-Date': '20261126T102030Z',
    'X-Amz-Expires': '300',
    'X-Amz-SignedHeaders': 'host',
    'X-Amz-Signature': /^[0-9a-f]{64}$/,
    'response-content-disposition': 'attachment; filename="game-42.replay.json"',
    'response-content-type': 'application/json'
  })
  t.notOk(Object.keys(params).some((p) => /checksum/i.test(p)), 'no x-amz-checksum-* parameter')
  t.equal(signed.method, 'GET')
  t.equal(signed.expiresAt.toISOString(), '2026-11-26T10:25:30.000Z', 'whole seconds, as the URL says')
  t.equal((await storageFor().presign(object, 'GET', at)).url, signed.url, 'the same inputs sign the same URL')
})

t.test('HEAD gets its own signature; an unknown type is left to S3', async (t) => {
  const get = await storageFor().presign(object, 'GET', at)
  const head = await storageFor().presign({ ...object, contentType: undefined }, 'HEAD', at)
  t.equal(head.method, 'HEAD')
  const params = new URL(head.url).searchParams
  t.notOk(params.has('response-content-type'))
  t.equal(params.get('response-content-disposition'), object.contentDisposition)
  t.not(params.get('X-Amz-Signature'), new URL(get.url).searchParams.get('X-Amz-Signature'))
})

t.test('TTL and addressing style follow the settings', async (t) => {
  const week = await storageFor({}, 604_800).presign(object, 'GET', at)
  t.equal(new URL(week.url).searchParams.get('X-Amz-Expires'), '604800')
  t.equal(week.expiresAt.toISOString(), '2026-12-03T10:20:30.000Z')
  const virtualHosted = await storageFor({ forcePathStyle: false }).presign(object, 'GET', at)
  t.equal(new URL(virtualHosted.url).host, 'replays.cdn.example.com')
  const samePlace = await storageFor({ publicEndpoint: s3.endpoint }).presign(object, 'GET', at)
  t.equal(new URL(samePlace.url).origin, 'http://s3.internal:9000')
})

t.test('readiness probe', async (t) => {
  const bucket = await openTestBucket(t)
  t.match(await bucket.storage().probe(5000), { ok: true, status: Number }, 'the real server answers')
  t.match(await bucket.storage({ s3: { bucket: 'no-such-bucket-here' } }).probe(5000), { ok: true, status: Number },
    'any HTTP status counts as reachable: a least-privilege role may get 403 or 404')

  const refused = await storageFor({ endpoint: `http://127.0.0.1:${await closedPort()}` }).probe(2000)
  t.equal(refused.ok, false, 'connection refused')
  t.match(refused.error, /ECONNREFUSED/)

  const started = Date.now()
  const hung = await storageFor({ endpoint: `http://127.0.0.1:${await silentPort(t)}` }).probe(300)
  t.same(hung, { ok: false, error: 'no answer in time' })
  t.ok(Date.now() - started < 5000, 'gives up on a server that accepts and never answers')
})
