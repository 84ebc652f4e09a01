// Reading the replay object for the streaming route: GetObject or HeadObject
// with the client's range and conditions, bounded by a connect timeout and a
// first-byte timeout. There is deliberately no idle timer once bytes flow: a
// client that reads slowly pauses the S3 socket, and that is healthy.
//
// Every answer is a value typed by its status: the bytes (200, 206), or why
// none are sent (304, 412, 416), or a failure whose kind is decided here.
import { GetObjectCommand, HeadObjectCommand, type GetObjectCommandInput, type S3Client } from '@aws-sdk/client-s3'
import type { Readable } from 'node:stream'
import { credentialsMissing, ReplayObjectMissing, StorageCredentialsMissing, StorageTimeout, StorageUnavailable } from '../http/errors.js'
import { ifRangeMatches, type ObjectRequest } from '../http/preconditions.js'
import { inSpan, markFailed, type TraceParent } from '../observability/telemetry.js'
import type { ObjectMeta, Validators } from '../model/object-meta.js'
import { Cancellation, type ReadSignal } from './cancellation.js'
import { s3FailureKind, s3Headers, s3Status, type S3FailureKind } from './s3-errors.js'
import type { DirectReads } from './direct-reads.js'

export type ObjectHead =
  | { status: 200 | 206, meta: ObjectMeta }
  | { status: 304, validators: Validators }
  | { status: 412, validators: Validators }
  /** `size` for `Content-Range: bytes *\/size`. */
  | { status: 416, validators: Validators, size: number | undefined }
  | ObjectReadFailure

export type ObjectRead = Exclude<ObjectHead, { status: 200 | 206 }> | { status: 200 | 206, meta: ObjectMeta, body: Readable, progress: () => BodyProgress }

/** How much of a body was handed on, and whether that was all of it. */
export interface BodyProgress {
  bytes: number
  complete: boolean
}

export interface ObjectReadFailure {
  status: 'failed'
  /** For the metrics: `missing`, `timeout`, `network`, `credentials`, `invalid` (an answer that cannot be passed on), or S3's status. */
  kind: 'missing' | 'invalid' | S3FailureKind
  /** The contract's error for the client; what S3 said is its cause. */
  error: Error
}

export interface ReadTarget {
  client: S3Client
  bucket: string
  firstByteTimeoutMs: number
  /** GetObject over sockets of the service's own, for an http: endpoint; the SDK otherwise. */
  sockets?: DirectReads | undefined
}

export interface ReadOptions {
  gameId: string
  key: string
  request: ObjectRequest
  /** Aborted when the client goes away (see cancellation.ts for why not an AbortSignal). */
  signal: ReadSignal
  /** The request's, for the S3 calls' spans. */
  trace?: TraceParent
}

export async function readObject (target: ReadTarget, options: ReadOptions): Promise<ObjectRead> {
  const answer = await send(target, options, 'GetObject', async (signal) => await getObject(target, options, signal))
  if (!('output' in answer)) return await complete(target, options, answer)
  const { status, meta, body, progress, lengthKnown } = answer.output
  const broken = brokenAnswer(options.request, status, meta, lengthKnown)
  if (broken !== undefined) {
    body.destroy()
    return broken
  }
  const instead = answeredHere(options.request, meta)
  if (instead !== undefined) {
    body.destroy()
    return instead
  }
  if (rangeStands(options.request, meta)) return { status: statusOf(options.request, meta), meta, body, progress }
  // The client's copy is stale: it gets the whole current object instead of a part of it.
  body.destroy()
  return await readObject(target, { ...options, request: wholeObject(options.request) })
}

export async function headObject (target: ReadTarget, options: ReadOptions): Promise<ObjectHead> {
  const answer = await send(target, options, 'HeadObject', async (signal) =>
    await target.client.send(new HeadObjectCommand(inputFor(target, options)), { abortSignal: signal }))
  if (!('output' in answer)) return await complete(target, options, answer)
  const meta = metaOf(answer.output)
  const broken = brokenAnswer(options.request, answer.output.$metadata.httpStatusCode, meta, meta.contentLength !== undefined)
  if (broken !== undefined) return broken
  const instead = answeredHere(options.request, meta)
  if (instead !== undefined) return instead
  if (rangeStands(options.request, meta)) return { status: statusOf(options.request, meta), meta }
  return await headObject(target, { ...options, request: wholeObject(options.request) })
}

interface ObjectAnswer {
  /** S3's status, 200 or 206 (undefined only if the SDK did not say). */
  status: number | undefined
  meta: ObjectMeta
  body: Readable
  progress: () => BodyProgress
  /** Where the body ends is known (a length, or chunked framing), so that one cut short is told from a whole one. */
  lengthKnown: boolean
}

/** S3's 200 or 206: over the service's own sockets when it can, else (and for any other answer) through the SDK. */
async function getObject (target: ReadTarget, options: ReadOptions, signal: Cancellation): Promise<ObjectAnswer> {
  const headers = target.sockets === undefined ? undefined : requestHeaders(options.request)
  if (headers !== undefined) {
    const answer = await (target.sockets as DirectReads).get(options.key, headers, signal)
    if (answer !== undefined) {
      const { status, meta, body } = answer
      return { status, meta, body, progress: () => ({ bytes: body.passed, complete: body.complete }), lengthKnown: true }
    }
  }
  const output = await target.client.send(new GetObjectCommand(inputFor(target, options)), { abortSignal: signal })
  const body = output.Body as Readable
  let bytes = 0
  // Counted once the body flows: a 'data' listener added before it is piped
  // would start the flow before anything consumes it, losing those bytes.
  body.once('resume', () => { body.on('data', (chunk: Buffer) => { bytes += chunk.length }) })
  // The SDK's body is Node's answer itself: its headers say how it is framed.
  const chunked = /\bchunked\b/i.test(String((body as { headers?: Record<string, unknown> }).headers?.['transfer-encoding'] ?? ''))
  return { status: output.$metadata.httpStatusCode, meta: metaOf(output), body, progress: () => ({ bytes, complete: body.readableEnded }), lengthKnown: output.ContentLength !== undefined || chunked }
}

/**
 * An answer of S3's that cannot be passed on to the client, as a failure
 * (exported for its unit test); undefined for one that can. Node's parser
 * takes control characters in a header's value where Fastify refuses to
 * send them; a body that ends when the connection closes (HTTP/1.0 without
 * Content-Length) looks whole when it was cut; a part of the object asked
 * for whole would be sent as the whole.
 */
export function brokenAnswer (request: ObjectRequest, status: number | undefined, meta: ObjectMeta, lengthKnown: boolean): ObjectReadFailure | undefined {
  let why: string | undefined
  if (request.range === undefined && (status === 206 || meta.contentRange !== undefined)) why = 'a part of the object (206, Content-Range) to a request for all of it'
  else if (!lengthKnown) why = 'no Content-Length and no chunked framing: a body cut short could not be told from a whole one'
  else {
    const bad = ([['ETag', meta.etag], ['Content-Type', meta.contentType], ['Content-Range', meta.contentRange]] as const).find(([, value]) => value !== undefined && CONTROL.test(value))
    if (bad !== undefined) why = `a control character in ${bad[0]}: ${JSON.stringify(bad[1])}`
  }
  if (why === undefined) return undefined
  return { status: 'failed', kind: 'invalid', error: Object.assign(new StorageUnavailable(), { cause: new Error(`S3 answered with ${why}`) }) }
}

// eslint-disable-next-line no-control-regex -- the control characters are what is looked for
const CONTROL = /[\u0000-\u001f\u007f]/

/** The request's range and conditions as HTTP header lines, as GetObject would send them (exported for its unit test). */
export function requestHeaders (request: ObjectRequest): string | undefined {
  const headers = [
    ['Range', request.range],
    ['If-Match', request.ifMatch],
    ['If-None-Match', request.ifNoneMatch],
    ['If-Modified-Since', request.ifModifiedSince?.toUTCString()],
    ['If-Unmodified-Since', request.ifUnmodifiedSince?.toUTCString()]
  ] as const
  let lines = ''
  for (const [name, value] of headers) {
    if (value === undefined) continue
    // Node's server refuses a request header with a line break; never sent on, whatever its source.
    if (/[\r\n]/.test(value)) return undefined
    lines += `${name}: ${value}\r\n`
  }
  return lines
}

/** What the service answers itself once S3 has shown the object exists and its conditions hold (see ObjectRequest). */
function answeredHere (request: ObjectRequest, meta: ObjectMeta): Refusal | undefined {
  const validators = { etag: meta.etag, lastModified: meta.lastModified }
  if (request.noneMatchAny === true) return { status: 304, validators }
  if (request.unsatisfiableRange === true) return { status: 416, validators, size: meta.contentLength }
  return undefined
}

function inputFor ({ bucket }: ReadTarget, { key, request }: ReadOptions): GetObjectCommandInput {
  return {
    Bucket: bucket,
    Key: key,
    Range: request.range,
    IfMatch: request.ifMatch,
    IfNoneMatch: request.ifNoneMatch,
    IfModifiedSince: request.ifModifiedSince,
    IfUnmodifiedSince: request.ifUnmodifiedSince
  }
}

function wholeObject (request: ObjectRequest): ObjectRequest {
  return { ...request, range: undefined, ifRange: undefined }
}

/** If-Range, which S3's GetObject has no input for: the range stands only while the client's validator matches. */
function rangeStands ({ ifRange }: ObjectRequest, meta: ObjectMeta): boolean {
  return ifRange === undefined || ifRangeMatches(ifRange, meta.etag, meta.lastModified)
}

/** S3 ignores a range it cannot parse; only a Content-Range says it was used. */
function statusOf ({ range }: ObjectRequest, meta: ObjectMeta): 200 | 206 {
  return range !== undefined && meta.contentRange !== undefined ? 206 : 200
}

interface S3Output {
  ContentLength?: number
  ContentRange?: string
  ContentType?: string
  ETag?: string
  LastModified?: Date
}

function metaOf (output: S3Output): ObjectMeta {
  return {
    contentLength: output.ContentLength,
    contentRange: output.ContentRange,
    contentType: output.ContentType,
    etag: output.ETag,
    lastModified: output.LastModified
  }
}

/** S3 answered without a body: 304, 412 or 416, or it failed. */
type Refusal = Exclude<ObjectHead, { status: 200 | 206 }>

/**
 * What S3's refusal lacks for the client (exported for its unit test): S3's
 * 416 does not say how large the object is, and some servers (Ceph RGW, the
 * emulator) send a 304 without the validators a revalidating client needs.
 */
export function lacksWhatClientNeeds (refusal: Refusal): boolean {
  return refusal.status === 416 || (refusal.status === 304 && refusal.validators.etag === undefined)
}

/** Asks S3 for what a refusal lacks: the object's validators and size. */
async function complete (target: ReadTarget, options: ReadOptions, refusal: Refusal): Promise<Refusal> {
  if (!lacksWhatClientNeeds(refusal)) return refusal
  const whole = await headObject(target, { ...options, request: {} })
  // Asked without conditions: the object, or a failure.
  if (!('meta' in whole)) return whole
  const validators = { etag: whole.meta.etag, lastModified: whole.meta.lastModified }
  return refusal.status === 304 ? { status: 304, validators } : { status: 416, validators, size: whole.meta.contentLength }
}

/** Runs one S3 call under the first-byte deadline; S3's answer, or what it refused and why. */
async function send<T> (target: ReadTarget, options: ReadOptions, operation: string, call: (signal: Cancellation) => Promise<T>): Promise<{ output: T } | Refusal> {
  // The span covers the call up to S3's answer (headers); the body follows at the client's pace.
  return await inSpan(options.trace, `s3.${operation}`, { 'rpc.system': 'aws-api', 'rpc.method': operation, 'aws.s3.bucket': target.bucket, 'aws.s3.key': options.key },
    async (span) => {
      const answer = await timedSend(target, options, call)
      if ('error' in answer) markFailed(span, answer.error)
      return answer
    })
}

async function timedSend<T> ({ firstByteTimeoutMs }: ReadTarget, { gameId, signal }: ReadOptions, call: (signal: Cancellation) => Promise<T>): Promise<{ output: T } | Refusal> {
  // The call's signal follows the client's and the deadline: a Cancellation
  // (see cancellation.ts), linked by hand rather than with AbortSignal.any.
  const forCall = new Cancellation()
  const follow = (): void => { forCall.abort(signal.reason) }
  let late = false
  const timer = setTimeout(() => { late = true; forCall.abort() }, firstByteTimeoutMs)
  // The first byte came, or none will: from here on, only the client's pace counts.
  const settle = (): void => {
    clearTimeout(timer)
    signal.removeEventListener('abort', follow)
  }
  if (signal.aborted) follow()
  else signal.addEventListener('abort', follow, { once: true })
  try {
    const output = await call(forCall)
    settle()
    return { output }
  } catch (error) {
    settle()
    if (signal.aborted) throw error // the client is gone: nobody to answer
    if (late) return { status: 'failed', kind: 'timeout', error: new StorageTimeout() }
    return refusalOf(error, gameId)
  }
}

/** What S3's failure of a call means for the client (exported for its unit test). */
export function refusalOf (error: unknown, gameId: string): Refusal {
  const status = s3Status(error)
  if (status === 304 || status === 412 || status === 416) {
    const headers = s3Headers(error)
    const lastModified = headers['last-modified']
    const validators = { etag: headers.etag, lastModified: lastModified === undefined ? undefined : new Date(lastModified) }
    return status === 416 ? { status, validators, size: undefined } : { status, validators }
  }
  if (status === 404) return { status: 'failed', kind: 'missing', error: new ReplayObjectMissing(gameId) }
  const kind = s3FailureKind(error)
  if (kind === 'timeout') return { status: 'failed', kind, error: new StorageTimeout() }
  // From the SDK's chain, or already the contract's error (the signer of the service's own sockets).
  if (kind === 'credentials') return { status: 'failed', kind, error: error instanceof StorageCredentialsMissing ? error : credentialsMissing(error) }
  // Kept as the cause: the error handler logs it for the operator, the client sees only the code.
  return { status: 'failed', kind, error: Object.assign(new StorageUnavailable(), { cause: error }) }
}
