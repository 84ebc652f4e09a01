// One compressed variant of one replay: the identity object streamed from S3
// through a hash and a node:zlib compressor into a multipart upload, then the
// upload read back, decoded and compared with the identity's hash and length.
// Only a variant that passed is handed back to be recorded; the identity
// object is only ever read. Memory stays bounded by the part size and queue,
// whatever the replay's size.
import { DeleteObjectCommand, GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { createHash } from 'node:crypto'
import { Transform, Writable, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { VariantRecord } from '../db/games.js'
import type { ContentCoding } from '../model/replay-object.js'
import { downloadHeaders } from '../replay/download-name.js'
import { MAX_KEY_BYTES, variantKey as storedVariantKey } from '../replay/replay-key.js'
import { describeNoAnswer, s3Code, s3Status } from '../storage/s3-errors.js'
import type { Codec } from './encodings.js'

/** S3's smallest part; with one part in flight, about 2 parts of memory per upload. */
export const PART_SIZE = 5 * 1024 * 1024
const QUEUE_SIZE = 1

/** Why a variant could not be made: said for people, with the game's id added by the caller. */
export class VariantError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'VariantError'
  }
}

/** Where a variant is stored (replay-key.ts's variantKey), refused when S3 could not hold a key that long. */
export function variantKey (identityKey: string, coding: ContentCoding): string {
  const key = storedVariantKey(identityKey, coding)
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new VariantError(`the variant's key would be longer than S3's ${MAX_KEY_BYTES} bytes (${Buffer.byteLength(key, 'utf8')}): ${key.slice(0, 60)}…`)
  }
  return key
}

export interface VariantJob {
  client: S3Client
  bucket: string
  gameId: string
  replayFile: string
  identityKey: string
  coding: ContentCoding
  codec: Codec
  level: number
  /** Aborts the reads and the upload (an interrupted run). */
  signal?: AbortSignal | undefined
  /** Told of the identity's bytes as they are read. */
  onBytes?: ((count: number) => void) | undefined
}

export type VariantOutcome =
  | { made: true, record: VariantRecord, seconds: number }
  | { made: false, size: number, identitySize: number }

/** Hashes and counts what passes through. */
class Digest extends Transform {
  readonly hash = createHash('sha256')
  bytes = 0
  constructor (private readonly onBytes: ((count: number) => void) | undefined = undefined) {
    super()
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.hash.update(chunk)
    this.bytes += chunk.length
    this.onBytes?.(chunk.length)
    this.push(chunk)
    done()
  }
}

/** Makes, uploads and verifies one variant; a variant not smaller than its replay is removed again and reported. */
export async function makeVariant (job: VariantJob): Promise<VariantOutcome> {
  const started = performance.now()
  const key = variantKey(job.identityKey, job.coding)
  const identity = await getObject(job, job.identityKey, 'the replay object')
  const identityLength = identity.ContentLength
  const contentType = downloadHeaders(job.gameId, job.replayFile).contentType ?? identity.ContentType
  const read = new Digest(job.onBytes)
  const written = new Digest()
  // One controller for the stream and the upload: whichever fails, both stop.
  const abort = new AbortController()
  const stop = (): void => { abort.abort(job.signal?.reason) }
  job.signal?.addEventListener('abort', stop, { once: true })
  const upload = new Upload({
    client: job.client,
    params: { Bucket: job.bucket, Key: key, Body: written, ContentEncoding: job.coding, ...(contentType !== undefined && { ContentType: contentType }) },
    partSize: PART_SIZE,
    queueSize: QUEUE_SIZE,
    abortController: abort
  })
  const streamed = pipeline(identity.Body as Readable, read, job.codec.compress(job.level, identityLength), written, { signal: abort.signal })
  try {
    await Promise.all([streamed, upload.done()])
  } catch (error) {
    abort.abort(error)
    await Promise.allSettled([streamed])
    throw job.signal?.aborted === true ? job.signal.reason : new VariantError(`the variant ${key} could not be made: ${describeS3(error)}`)
  } finally {
    job.signal?.removeEventListener('abort', stop)
  }
  if (identityLength !== undefined && read.bytes !== identityLength) {
    throw new VariantError(`the replay object ${job.identityKey} ended after ${read.bytes} of its ${identityLength} bytes`)
  }
  if (written.bytes >= read.bytes) {
    await job.client.send(new DeleteObjectCommand({ Bucket: job.bucket, Key: key }))
    return { made: false, size: written.bytes, identitySize: read.bytes }
  }
  const identitySha256 = read.hash.digest('hex')
  await verify(job, key, written.bytes, read.bytes, identitySha256)
  return {
    made: true,
    seconds: (performance.now() - started) / 1000,
    record: {
      gameId: job.gameId,
      encoding: job.coding,
      key,
      size: written.bytes,
      identityKey: job.identityKey,
      identitySize: read.bytes,
      identityEtag: identity.ETag,
      identitySha256
    }
  }
}

/** Reads the variant back as a client would get it, and decodes it: the identity's bytes, or an error. */
async function verify (job: VariantJob, key: string, size: number, identitySize: number, identitySha256: string): Promise<void> {
  const stored = await getObject(job, key, 'the uploaded variant')
  const problems: string[] = []
  if (stored.ContentEncoding !== job.coding) problems.push(`its stored Content-Encoding is ${JSON.stringify(stored.ContentEncoding ?? null)}, not "${job.coding}"`)
  if (stored.ContentLength !== size) problems.push(`S3 holds ${String(stored.ContentLength)} bytes of the ${size} uploaded`)
  const decoded = new Digest()
  try {
    await pipeline(stored.Body as Readable, job.codec.decompress(), decoded, new Writable({ write (_chunk, _encoding, done) { done() } }), { signal: job.signal })
  } catch (error) {
    if (job.signal?.aborted === true) throw job.signal.reason
    problems.push(`it does not decode: ${(error as Error).message}`)
  }
  if (problems.length === 0 && (decoded.bytes !== identitySize || decoded.hash.digest('hex') !== identitySha256)) {
    problems.push(`it decodes to ${decoded.bytes} bytes that differ from the replay's ${identitySize}`)
  }
  if (problems.length > 0) throw new VariantError(`the ${job.coding} variant ${key} failed its check, and was not recorded: ${problems.join('; ')}`)
}

async function getObject (job: VariantJob, key: string, what: string): Promise<GetObjectCommandOutput> {
  try {
    return await job.client.send(new GetObjectCommand({ Bucket: job.bucket, Key: key }), { abortSignal: job.signal })
  } catch (error) {
    if (job.signal?.aborted === true) throw job.signal.reason
    const status = s3Status(error)
    if (status === 404) throw new VariantError(`${what} ${key} is missing (S3 answered 404, ${s3Code(error)})`)
    throw new VariantError(`${what} ${key} could not be read: ${describeS3(error)}`)
  }
}

function describeS3 (error: unknown): string {
  const status = s3Status(error)
  return status === undefined ? describeNoAnswer(error) : `S3 answered ${status}, ${s3Code(error)}`
}
