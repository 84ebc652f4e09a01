// S3's failures as the SDK reports them, turned into what the route sends.
// The SDK's error objects are this pure mapping's input; the route's tests
// cover the same paths against the S3 server.
import t from 'tap'
import { credentialsMissing } from '../../src/http/errors.js'
import { lacksWhatClientNeeds, refusalOf } from '../../src/storage/object-reads.js'
import { s3Code } from '../../src/storage/s3-errors.js'

t.test('304, 412 and 416 keep the validators S3 sent with them', async (t) => {
  const lastModified = 'Thu, 26 Nov 2026 10:00:00 GMT'
  t.same(refusalOf({ $metadata: { httpStatusCode: 304 }, $response: { headers: { etag: '"e"', 'last-modified': lastModified } } }, '42'),
    { status: 304, validators: { etag: '"e"', lastModified: new Date(lastModified) } })
  t.same(refusalOf({ $metadata: { httpStatusCode: 412 }, $response: { headers: { etag: '"e"' } } }, '42'),
    { status: 412, validators: { etag: '"e"', lastModified: undefined } })
  t.same(refusalOf({ $metadata: { httpStatusCode: 416 } }, '42'), { status: 416, validators: { etag: undefined, lastModified: undefined }, size: undefined })
})

t.test('what S3 leaves out is asked for: the size for a 416, the validators of a bare 304', async (t) => {
  const validators = { etag: '"e"', lastModified: undefined }
  const none = { etag: undefined, lastModified: undefined }
  t.equal(lacksWhatClientNeeds({ status: 416, validators, size: undefined }), true)
  t.equal(lacksWhatClientNeeds({ status: 304, validators: none }), true)
  t.equal(lacksWhatClientNeeds({ status: 304, validators }), false)
  t.equal(lacksWhatClientNeeds({ status: 412, validators: none }), false, 'a 412 says what it must')
  t.equal(lacksWhatClientNeeds(refusalOf({ $metadata: { httpStatusCode: 500 } }, '42')), false, 'a failure is passed on')
})

t.test('a missing object, a timeout, and anything else: the contract\'s error and the kind the metrics count', async (t) => {
  t.match(refusalOf({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }, '42'),
    { status: 'failed', kind: 'missing', error: { code: 'REPLAY_OBJECT_MISSING', statusCode: 404, message: /game 42/ } })
  t.match(refusalOf({ name: 'TimeoutError' }, '42'), { kind: 'timeout', error: { code: 'STORAGE_TIMEOUT', statusCode: 504 } }, 'a connect timeout')
  const denied = { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }
  t.match(refusalOf(denied, '42'), { kind: '403', error: { code: 'STORAGE_UNAVAILABLE', statusCode: 502, cause: denied } })
  t.match(refusalOf({ $metadata: { httpStatusCode: 503 } }, '42'), { kind: '503', error: { code: 'STORAGE_UNAVAILABLE' } })
  t.match(refusalOf({ code: 'ECONNRESET' }, '42'), { kind: 'network', error: { code: 'STORAGE_UNAVAILABLE' } })
  for (const code of ['ECONNRESET', 'EPIPE']) {
    t.match(refusalOf({ name: 'TimeoutError', code }, '42'), { kind: 'network', error: { code: 'STORAGE_UNAVAILABLE', statusCode: 502 } },
      `the SDK calls a broken connection (${code}) a TimeoutError; it is a failure, not a timeout`)
  }
  t.match(refusalOf({ name: 'TimeoutError', code: 'ETIMEDOUT' }, '42'), { kind: 'timeout', error: { code: 'STORAGE_TIMEOUT' } })
  const none = { name: 'CredentialsProviderError', message: 'Could not load credentials from any providers' }
  t.match(refusalOf(none, '42'), { kind: 'credentials', error: { code: 'STORAGE_CREDENTIALS_MISSING', statusCode: 503, cause: none } }, 'no credentials: this instance\'s setup')
  const signed = credentialsMissing(none)
  t.match(refusalOf(signed, '42'), { kind: 'credentials', error: signed }, 'the signer\'s own is passed on')
})

t.test('s3Code: S3\'s error code, or unknown when the answer had none', async (t) => {
  t.equal(s3Code(Object.assign(new Error('x'), { name: 'NoSuchKey' })), 'NoSuchKey')
  t.equal(s3Code({ Code: 'SignatureDoesNotMatch', name: 'S3ServiceException' }), 'SignatureDoesNotMatch', 'the Code of the body first')
  t.equal(s3Code({ code: 'AccessDenied' }), 'AccessDenied')
  for (const name of ['Unknown', 'UnknownError', 'Error']) t.equal(s3Code({ name }), 'unknown', `a HEAD's bodiless answer: ${name}`)
  t.equal(s3Code({}), 'unknown')
})
