// Reading the replay object for the streaming route: GetObject or HeadObject
// with the client's range and conditionals, bounded by a connect timeout and
// a first-byte timeout. There is deliberately no idle timer once bytes flow:
// a client that reads slowly pauses the S3 socket, and that is healthy.
import { GetObjectCommand, HeadObjectCommand, type GetObjectCommandInput } from '@aws-sdk/client-s3'
import type { Readable } from 'node:stream'
import { ifRangeMatches, type ObjectRequest } from '../http/preconditions.js'
import { ReplayObjectMissing, StorageTimeout, StorageUnavailable } from '../errors.js'
import type { ReplayStorage } from './replay-storage.js'
import { inSpan } from '../telemetry.js'

export interface ObjectMeta {
  status: 200 | 206
  contentLength: number | undefined
  contentRange: string | undefined
  contentType: string | undefined
  etag: string | undefined
  lastModified: Date | undefined
}

/** S3 answered 304, 412 or 416: no body goes to the client. */
export class ObjectNotSent extends Error {
  constructor (
    readonly status: 304 | 412 | 416,
    readonly etag: string | undefined,
    readonly lastModified: string | undefined,
    /** For 416: the object's size, for `Content-Range: bytes *\/size`. */
    readonly size?: number
  ) {
    super(`storage answered ${status}`)
    this.name = 'ObjectNotSent'
  }
}

export interface ReadOptions {
  gameId: string
  key: string
  request: ObjectRequest
  /** Aborted when the client goes away. */
  signal: AbortSignal
}

export async function getReplayObject (storage: ReplayStorage, options: ReadOptions): Promise<{ meta: ObjectMeta, body: Readable }> {
  const { request } = options
  const output = await send(storage, options, 'GetObject', (signal) =>
    storage.client.send(new GetObjectCommand(inputFor(storage, options.key, request)), { abortSignal: signal }))
  const meta = metaOf(output, request.range)
  if (request.ifRange === undefined || ifRangeMatches(request.ifRange, meta.etag, meta.lastModified)) {
    return { meta, body: output.Body as Readable }
  }
  // The client's copy is stale: it gets the whole current object instead of a part of it.
  ;(output.Body as Readable).destroy()
  return await getReplayObject(storage, { ...options, request: { ...request, range: undefined, ifRange: undefined } })
}

export async function headReplayObject (storage: ReplayStorage, options: ReadOptions): Promise<ObjectMeta> {
  const { request } = options
  const output = await send(storage, options, 'HeadObject', (signal) =>
    storage.client.send(new HeadObjectCommand(inputFor(storage, options.key, request)), { abortSignal: signal }))
  const meta = metaOf(output, request.range)
  if (request.ifRange === undefined || ifRangeMatches(request.ifRange, meta.etag, meta.lastModified)) return meta
  return await headReplayObject(storage, { ...options, request: { ...request, range: undefined, ifRange: undefined } })
}

function inputFor (storage: ReplayStorage, key: string, request: ObjectRequest): GetObjectCommandInput {
  return {
    Bucket: storage.bucket,
    Key: key,
    Range: request.range,
    IfMatch: request.ifMatch,
    IfNoneMatch: request.ifNoneMatch,
    IfModifiedSince: request.ifModifiedSince,
    IfUnmodifiedSince: request.ifUnmodifiedSince
  }
}

interface S3Output {
  ContentLength?: number
  ContentRange?: string
  ContentType?: string
  ETag?: string
  LastModified?: Date
}

function metaOf (output: S3Output, range: string | undefined): ObjectMeta {
  return {
    // S3 ignores a range it cannot parse; only a Content-Range says it was used.
    status: range !== undefined && output.ContentRange !== undefined ? 206 : 200,
    contentLength: output.ContentLength,
    contentRange: output.ContentRange,
    contentType: output.ContentType,
    etag: output.ETag,
    lastModified: output.LastModified
  }
}

export interface S3Error {
  name?: string
  code?: string
  $metadata?: { httpStatusCode?: number }
  $response?: { headers?: Record<string, string | undefined> }
}

/** Runs one S3 call under the first-byte deadline and turns its failures into the contract's errors. */
async function send<T> (storage: ReplayStorage, options: ReadOptions, operation: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  // The span covers the call up to S3's answer (headers); the body follows at the client's pace.
  return await inSpan(`s3.${operation}`, { 'rpc.system': 'aws-api', 'rpc.method': operation, 'aws.s3.bucket': storage.bucket, 'aws.s3.key': options.key },
    async () => await timedSend(storage, options, call))
}

async function timedSend<T> (storage: ReplayStorage, { gameId, key, request, signal }: ReadOptions, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = new AbortController()
  const timer = setTimeout(() => deadline.abort(new StorageTimeout()), storage.firstByteTimeoutMs)
  try {
    const output = await call(AbortSignal.any([signal, deadline.signal]))
    clearTimeout(timer) // the first byte came: from here on, only the client's pace counts
    return output
  } catch (error) {
    clearTimeout(timer)
    if (signal.aborted) throw error // the client is gone: nobody to answer
    if (deadline.signal.aborted) throw deadline.signal.reason as Error
    throw await translate(storage, error as S3Error, { gameId, key, request, signal })
  }
}

/** Exported for its unit test: S3's answer (or failure) → what the route sends. */
export async function translate (storage: ReplayStorage, error: S3Error, options: ReadOptions): Promise<Error> {
  const status = error.$metadata?.httpStatusCode
  const headers = error.$response?.headers ?? {}
  switch (status) {
    case 304: {
      if (headers.etag !== undefined) return new ObjectNotSent(304, headers.etag, headers['last-modified'])
      // Some servers (Ceph RGW, the emulator) send their 304 bare; a client
      // revalidating its cache needs the validators, so they are looked up.
      const meta = await headReplayObject(storage, { ...options, request: {} })
      return new ObjectNotSent(304, meta.etag, meta.lastModified?.toUTCString())
    }
    case 412:
      return new ObjectNotSent(412, headers.etag, headers['last-modified'])
    case 416: {
      // S3's 416 does not say how large the object is; the client needs it.
      const meta = await headReplayObject(storage, { ...options, request: {} })
      return new ObjectNotSent(416, meta.etag, meta.lastModified?.toUTCString(), meta.contentLength)
    }
    case 404:
      return new ReplayObjectMissing(options.gameId)
  }
  // The SDK names a reset connection a TimeoutError too (so that it is retried); it is not one.
  const code = error.code
  if (error.name === 'TimeoutError' && code !== 'ECONNRESET' && code !== 'EPIPE') return new StorageTimeout()
  // Kept as the cause: the error handler logs it for the operator, the client sees only the code.
  return Object.assign(new StorageUnavailable(), { cause: error })
}
