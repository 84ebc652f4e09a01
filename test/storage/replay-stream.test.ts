// S3's failures as the SDK reports them, turned into what the route sends.
// The SDK's error objects are this pure mapping's input; the route's tests
// cover the same paths against the S3 server.
import t from 'tap'
import { ReplayStorage } from '../../src/storage/replay-storage.js'
import { ObjectNotSent, translate } from '../../src/storage/replay-stream.js'

const storage = new ReplayStorage({
  s3: { bucket: 'replays', region: 'us-east-1', endpoint: 'http://127.0.0.1:9', publicEndpoint: undefined, forcePathStyle: true, keyPrefix: '', connectTimeoutMs: 100, firstByteTimeoutMs: 100 },
  presignTtlSeconds: 300
})
t.teardown(() => storage.close())
const options = { gameId: '42', key: 'g/r.json', request: {}, signal: new AbortController().signal }

t.test('304 and 412 keep the validators S3 sent with them', async (t) => {
  const notModified = await translate(storage, { $metadata: { httpStatusCode: 304 }, $response: { headers: { etag: '"e"', 'last-modified': 'Thu, 26 Nov 2026 10:00:00 GMT' } } }, options)
  t.match(notModified, new ObjectNotSent(304, '"e"', 'Thu, 26 Nov 2026 10:00:00 GMT'))
  t.match(await translate(storage, { $metadata: { httpStatusCode: 412 }, $response: { headers: { etag: '"e"' } } }, options), { status: 412, etag: '"e"' })
  const failed = await translate(storage, { $metadata: { httpStatusCode: 412 } }, options)
  t.match(failed, { status: 412, etag: undefined, lastModified: undefined })
})

t.test('a missing object, a timeout, and anything else', async (t) => {
  t.match(await translate(storage, { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }, options), { code: 'REPLAY_OBJECT_MISSING', statusCode: 404 })
  t.match(await translate(storage, { name: 'TimeoutError' }, options), { code: 'STORAGE_TIMEOUT', statusCode: 504 }, 'a connect timeout')
  const denied = { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }
  t.match(await translate(storage, denied, options), { code: 'STORAGE_UNAVAILABLE', statusCode: 502, cause: denied })
  t.match(await translate(storage, { $metadata: { httpStatusCode: 503 } }, options), { code: 'STORAGE_UNAVAILABLE' })
  t.match(await translate(storage, { code: 'ECONNRESET' }, options), { code: 'STORAGE_UNAVAILABLE' })
  for (const code of ['ECONNRESET', 'EPIPE']) {
    t.match(await translate(storage, { name: 'TimeoutError', code }, options), { code: 'STORAGE_UNAVAILABLE', statusCode: 502 },
      `the SDK calls a broken connection (${code}) a TimeoutError; it is a failure, not a timeout`)
  }
  t.match(await translate(storage, { name: 'TimeoutError', code: 'ETIMEDOUT' }, options), { code: 'STORAGE_TIMEOUT' })
})
