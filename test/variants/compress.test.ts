// One variant's pipeline (makeVariant) on the test's bucket, with faults put
// into the test's own S3 client: an interrupted stream, an upload that fails,
// answers that do not match, a variant that decodes to other bytes. None of
// them may yield a variant to record.
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { Transform } from 'node:stream'
import { gunzipSync } from 'node:zlib'
import t from 'tap'
import { generateReplayText } from '../../bench/replay-generator.js'
import { PART_SIZE, VariantError, makeVariant, variantKey, type VariantJob } from '../../src/variants/compress.js'
import { CODINGS, DEFAULT_LEVELS, LEVEL_RANGES, codecFor, defaultCodings, runtimeZstd, type Codec } from '../../src/variants/encodings.js'
import { size } from '../../src/variants/report.js'
import { openTestBucket, type TestS3 } from '../helper.js'

const s3 = await openTestBucket(t)
const body = generateReplayText({ ticks: 30, seed: 9 })
await s3.put('g/1/replay.json', body)
await s3.put('g/2/replay.json', body)
const gzip = codecFor('gzip', undefined) as Codec

function job (client: S3Client, more: Partial<VariantJob> = {}): VariantJob {
  return { client, bucket: s3.s3.bucket, gameId: '1', replayFile: 'replay.json', identityKey: 'g/1/replay.json', coding: 'gzip', codec: gzip, level: 6, ...more }
}

type Fault = (key: string, input: Record<string, unknown>, next: () => Promise<{ output: Record<string, unknown> }>) => Promise<{ output: Record<string, unknown> }>

/** A client of the test's bucket whose requests pass through `fault` first. */
function faulty (bucket: TestS3, fault: Fault): S3Client {
  const client = bucket.client(bucket.credentials)
  client.middlewareStack.add((next, context) => async (args) => {
    const input = args.input as Record<string, unknown>
    return await fault(`${context.commandName as string} ${String(input.Key)}`, input, async () => await next(args) as unknown as { output: Record<string, unknown> }) as never
  }, { step: 'initialize', name: 'testFault' })
  return client
}

async function exists (key: string): Promise<boolean> {
  return await s3.admin.send(new HeadObjectCommand({ Bucket: s3.s3.bucket, Key: key })).then(() => true, () => false)
}

t.test('a variant made and checked: its record says what it was made from', async (t) => {
  const outcome = await makeVariant(job(s3.admin))
  t.ok(outcome.made)
  if (!outcome.made) return
  t.match(outcome.record, { gameId: '1', encoding: 'gzip', key: 'g/1/replay.json.variant-gzip', identityKey: 'g/1/replay.json', identitySize: Buffer.byteLength(body), identityEtag: /^"\w+"$/, identitySha256: /^[0-9a-f]{64}$/ })
  t.ok(outcome.record.size < outcome.record.identitySize / 5)
  t.equal(PART_SIZE, 5 * 1024 * 1024, 'S3\'s smallest part: what the upload holds in memory')
})

t.test('aborted while the replay streams: the upload stops and nothing is handed back', async (t) => {
  const interrupt = new AbortController()
  const reason = new Error('interrupted')
  await t.rejects(makeVariant(job(s3.admin, { identityKey: 'g/2/replay.json', signal: interrupt.signal, onBytes: () => { interrupt.abort(reason) } })), reason)
  t.notOk(await exists('g/2/replay.json.variant-gzip'), 'no variant was stored')
  t.ok(await exists('g/2/replay.json'))
  await t.rejects(makeVariant(job(s3.admin, { signal: interrupt.signal })), reason, 'an aborted run asks S3 for nothing more')
})

t.test('an upload S3 refuses fails the variant with S3\'s answer', async (t) => {
  const refusing = faulty(s3, async (what, _input, next) => {
    if (what.startsWith('PutObjectCommand')) throw Object.assign(new Error('disk full'), { $metadata: { httpStatusCode: 507 }, name: 'InsufficientStorage' })
    return await next()
  })
  await t.rejects(makeVariant(job(refusing, { identityKey: 'g/1/replay.json', coding: 'gzip' })), { name: 'VariantError', message: 'the variant g/1/replay.json.variant-gzip could not be made: S3 answered 507, InsufficientStorage' })
  const unreachable = faulty(s3, async (what, _input, next) => {
    if (what.startsWith('PutObjectCommand')) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    return await next()
  })
  await t.rejects(makeVariant(job(unreachable)), { message: /could not be made: ECONNRESET: socket hang up$/ })
})

t.test('a replay S3 refuses to read, or that ends short, fails its variant', async (t) => {
  const stranger = s3.client({ accessKeyId: 'nobody', secretAccessKey: 'wrong' })
  await t.rejects(makeVariant(job(stranger)), { message: /^the replay object g\/1\/replay\.json could not be read: S3 answered 403, \w+$/ })
  const short = faulty(s3, async (what, _input, next) => {
    const answer = await next()
    if (what === 'GetObjectCommand g/1/replay.json') answer.output.ContentLength = Number(answer.output.ContentLength) + 10
    return answer
  })
  await t.rejects(makeVariant(job(short)), { message: `the replay object g/1/replay.json ended after ${Buffer.byteLength(body)} of its ${Buffer.byteLength(body) + 10} bytes` })
})

t.test('the check refuses a variant stored without its coding, stored short, that does not decode, or decodes to other bytes', async (t) => {
  const unlabelled = faulty(s3, async (what, input, next) => {
    if (what.startsWith('PutObjectCommand')) delete input.ContentEncoding
    return await next()
  })
  await t.rejects(makeVariant(job(unlabelled)), {
    message: 'the gzip variant g/1/replay.json.variant-gzip failed its check, and was not recorded: its stored Content-Encoding is null, not "gzip"'
  })
  const short = faulty(s3, async (what, _input, next) => {
    const answer = await next()
    if (what === 'GetObjectCommand g/1/replay.json.variant-gzip') answer.output.ContentLength = 1
    return answer
  })
  await t.rejects(makeVariant(job(short)), { message: /failed its check, and was not recorded: S3 holds 1 bytes of the \d+ uploaded$/ })

  const brotli = codecFor('br', undefined) as Codec
  await t.rejects(makeVariant(job(s3.admin, { codec: { compress: brotli.compress, decompress: gzip.decompress } })), { message: /failed its check, and was not recorded: it does not decode: / })

  const lossy: Codec = {
    compress: gzip.compress,
    decompress: () => {
      const chunks: Buffer[] = []
      return new Transform({
        transform (chunk: Buffer, _encoding, done) { chunks.push(chunk); done() },
        flush (done) { done(null, gunzipSync(Buffer.concat(chunks)).subarray(1)) }
      })
    }
  }
  await t.rejects(makeVariant(job(s3.admin, { codec: lossy })), { message: `failed its check, and was not recorded: it decodes to ${Buffer.byteLength(body) - 1} bytes that differ from the replay's ${Buffer.byteLength(body)}` })
})

t.test('aborted while the variant is checked: the abort wins, not a failed check', async (t) => {
  const interrupt = new AbortController()
  const reason = new Error('interrupted')
  const beforeRead = faulty(s3, async (what, _input, next) => {
    if (what === 'GetObjectCommand g/1/replay.json.variant-gzip') interrupt.abort(reason)
    return await next()
  })
  await t.rejects(makeVariant(job(beforeRead, { signal: interrupt.signal })), reason)
  const whileReading = new AbortController()
  const duringRead = faulty(s3, async (what, _input, next) => {
    const answer = await next()
    if (what === 'GetObjectCommand g/1/replay.json.variant-gzip') whileReading.abort(reason)
    return answer
  })
  await t.rejects(makeVariant(job(duringRead, { signal: whileReading.signal })), reason)
})

t.test('keys, codings and sizes', async (t) => {
  t.equal(variantKey('a/b.json', 'br'), 'a/b.json.variant-br')
  t.throws(() => variantKey(`${'k'.repeat(1012)}`, 'gzip'), VariantError)
  t.same(CODINGS, ['gzip', 'br', 'zstd'])
  t.same(defaultCodings(undefined), ['gzip', 'br'])
  t.same(defaultCodings(runtimeZstd() ?? { createZstdCompress: () => new Transform(), createZstdDecompress: () => new Transform() }), ['gzip', 'br', 'zstd'])
  t.equal(codecFor('zstd', undefined), undefined)
  for (const coding of CODINGS) {
    const [min, max] = LEVEL_RANGES[coding]
    t.ok(DEFAULT_LEVELS[coding] >= min && DEFAULT_LEVELS[coding] <= max)
  }
  t.same([size(512), size(2048), size(3 * 1024 * 1024), size(5 * 1024 ** 3)], ['512 B', '2.0 KiB', '3.00 MiB', '5.00 GiB'])
  const got = await s3.admin.send(new GetObjectCommand({ Bucket: s3.s3.bucket, Key: 'g/1/replay.json' }))
  t.equal(await got.Body?.transformToString(), body, 'the replay itself is as it was put')
})
