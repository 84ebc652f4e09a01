// The only module of the service that talks to S3: a signed URL, a read of
// the object, a readiness probe. Its S3 clients and signer are private; the
// routes never build S3 requests themselves. (The bucket:setup command, which
// administers the bucket, has a client of its own.)
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { LRUCache } from 'lru-cache'
import type { Readable } from 'node:stream'
import { MAX_PRESIGN_TTL_SECONDS, type LookupCacheConfig, type S3Config } from '../config/index.js'
import type { ReplayObject } from '../replay/locate-replay.js'
import { inSpan, type TraceParent } from '../observability/telemetry.js'
import { headObject, readObject, type ObjectHead, type ObjectRead, type ReadOptions, type ReadTarget } from './object-reads.js'
import { createS3Client, type Credentials, type S3RequestObserver } from './s3-client.js'
import { describeNoAnswer, s3Code, s3Status } from './s3-errors.js'
import { SocketReads } from './socket-reads.js'
import { UrlSigner } from './url-signer.js'

export interface PresignedUrl {
  url: string
  method: 'GET'
  expiresAt: Date
}

/**
 * What the readiness probe found: S3 serves this instance (`ok`), S3 is out
 * or overloaded for everyone (`unreachable`), or it refuses this instance's
 * configuration (`misconfigured`: wrong keys, no such bucket, wrong region).
 */
export type StorageProbe =
  | { state: 'ok' }
  | { state: 'unreachable' | 'misconfigured', detail: string }

/** S3's answers to a GET of a key that does not exist that mean "this instance may read here". */
const READABLE = new Set(['NoSuchKey', 'AccessDenied', 'InvalidRange'])

export interface ReplayStorageOptions {
  s3: S3Config
  presignTtlSeconds: number
  /** How long what HeadObject said of an object is kept (a recorded replay does not change); left out, nothing is kept. */
  headCache?: LookupCacheConfig
  /** URLs are signed for windows of this many seconds and reused within one; 0: every URL is signed when asked for. */
  presignReuseSeconds?: number
  credentials?: Credentials | undefined
  /** Told of each request sent to S3 (the metrics' S3 latency); presigning sends none. */
  onRequest?: S3RequestObserver | undefined
}

/**
 * A URL's X-Amz-Date is set this far before its window starts (and its
 * X-Amz-Expires this much longer), so that a server whose clock runs ahead
 * of S3's never hands out a URL that S3 calls not yet valid.
 */
export const CLOCK_SKEW_SECONDS = 60
/** Signed URLs kept for reuse, one per object and download headers. */
export const MAX_CACHED_URLS = 10_000

interface CachedUrl {
  windowStart: number
  /** What the URL was signed for, besides the key. */
  contentDisposition: string
  contentType: string | undefined
  signed: Readonly<PresignedUrl>
  /** Cut short by credentials about to expire: signed again until fresh ones arrive. */
  cutShort: boolean
}

export class ReplayStorage {
  readonly bucket: string
  readonly presignTtlSeconds: number
  readonly presignReuseSeconds: number
  /** Talks to S3 from the service (S3_ENDPOINT). */
  readonly #client: S3Client
  /** Never sends a request but one at start: it signs URLs for the public endpoint. */
  readonly #presignClient: S3Client
  readonly #signer: UrlSigner
  readonly #reads: ReadTarget
  readonly #urls = new Map<string, CachedUrl>()
  readonly #heads: LRUCache<string, ObjectHead> | undefined
  readonly #missTtlMs: number
  /** A key below the prefix that no replay has: what the readiness probe asks for. */
  readonly #probeKey: string

  constructor ({ s3, presignTtlSeconds, presignReuseSeconds = 0, credentials, headCache, onRequest }: ReplayStorageOptions) {
    this.bucket = s3.bucket
    this.presignTtlSeconds = presignTtlSeconds
    this.presignReuseSeconds = presignReuseSeconds
    const common = { region: s3.region, forcePathStyle: s3.forcePathStyle, connectTimeoutMs: s3.connectTimeoutMs, credentials }
    this.#client = createS3Client({ ...common, endpoint: s3.endpoint, onRequest })
    this.#presignClient = s3.publicEndpoint === s3.endpoint
      ? this.#client
      : createS3Client({ ...common, endpoint: s3.publicEndpoint })
    this.#signer = new UrlSigner(this.#presignClient, s3.bucket)
    this.#reads = { client: this.#client, bucket: s3.bucket, firstByteTimeoutMs: s3.firstByteTimeoutMs, sockets: socketReads(s3, this.#presignClient === this.#client ? this.#signer : new UrlSigner(this.#client, s3.bucket), onRequest) }
    this.#heads = headCache === undefined || headCache.size === 0 ? undefined : new LRUCache({ max: headCache.size, ttl: headCache.ttlSeconds * 1000 })
    this.#missTtlMs = (headCache?.missTtlSeconds ?? 0) * 1000
    this.#probeKey = `${s3.keyPrefix}replay-gate-readiness-probe`
  }

  /**
   * What a download of the whole object will have (size, type, validators),
   * from HeadObject: kept like a game's row (a recorded replay does not
   * change), a missing object only for the lookup's miss time.
   */
  async describe (options: Omit<ReadOptions, 'request'>): Promise<ObjectHead> {
    const known = this.#heads?.get(options.key)
    if (known !== undefined) return known
    const head = await headObject(this.#reads, { ...options, request: {} })
    if (head.status === 200) this.#heads?.set(options.key, head)
    else if (head.status === 'failed' && head.kind === 'missing' && this.#missTtlMs > 0) this.#heads?.set(options.key, head, { ttl: this.#missTtlMs })
    return head
  }

  /** The object's bytes for the client's request (range, conditions), or why none are sent. */
  async read (options: ReadOptions): Promise<ObjectRead> {
    return await readObject(this.#reads, options)
  }

  /** What read would answer, without the bytes. */
  async head (options: ReadOptions): Promise<ObjectHead> {
    return await headObject(this.#reads, options)
  }

  /** The URL of this window, when one was signed already for the object (presign signs one when not). */
  reusedUrl (object: ReplayObject, now: Date | number = Date.now()): Readonly<PresignedUrl> | undefined {
    if (this.presignReuseSeconds === 0) return undefined
    // By key; a URL made for another download name or type (two games, one object) is not reused.
    const cached = this.#urls.get(object.key)
    if (cached === undefined || cached.cutShort || cached.contentDisposition !== object.contentDisposition || cached.contentType !== object.contentType) return undefined
    const seconds = Math.floor(Number(now) / 1000)
    return cached.windowStart === seconds - (seconds % this.presignReuseSeconds) ? cached.signed : undefined
  }

  /**
   * A GET URL of the replay object. Time is cut into windows of
   * presignReuseSeconds: every request in one window, on every instance signing
   * with the same credentials, gets the same URL, valid until the window's start
   * plus the TTL, so at least TTL - window is left when it is handed out. It never
   * outlives the credentials that signed it.
   */
  async presign (object: ReplayObject, { now = Date.now(), trace }: { now?: Date | number, trace?: TraceParent } = {}): Promise<Readonly<PresignedUrl>> {
    const reused = this.reusedUrl(object, now)
    if (reused !== undefined) return reused
    const seconds = Math.floor(Number(now) / 1000)
    const windowStart = this.presignReuseSeconds > 0 ? seconds - (seconds % this.presignReuseSeconds) : seconds
    const reuse = this.presignReuseSeconds > 0

    // A span only when a URL is signed: one handed out again is a lookup in memory.
    return await inSpan(trace, 'replay.sign', { 'http.request.method': 'GET' }, async () => await this.#sign(object, windowStart, reuse))
  }

  async #sign (object: ReplayObject, windowStart: number, reuse: boolean): Promise<Readonly<PresignedUrl>> {
    const { expiration } = await this.#signer.credentials()
    const skew = Math.min(CLOCK_SKEW_SECONDS, MAX_PRESIGN_TTL_SECONDS - this.presignTtlSeconds)
    const signedAt = windowStart - skew
    const expiresAt = Math.min(windowStart + this.presignTtlSeconds, Math.floor((expiration?.getTime() ?? Infinity) / 1000))
    const url = await this.#signer.sign({
      key: object.key,
      contentDisposition: object.contentDisposition,
      contentType: object.contentType,
      signingDate: new Date(signedAt * 1000),
      expiresInSeconds: Math.max(1, expiresAt - signedAt)
    })
    const signed = { url, method: 'GET' as const, expiresAt: new Date(Math.max(signedAt + 1, expiresAt) * 1000) }
    if (reuse) {
      this.#urls.delete(object.key)
      if (this.#urls.size >= MAX_CACHED_URLS) this.#urls.delete(this.#urls.keys().next().value as string)
      this.#urls.set(object.key, { windowStart, contentDisposition: object.contentDisposition, contentType: object.contentType, signed, cutShort: expiresAt < windowStart + this.presignTtlSeconds })
    }
    return signed
  }

  /** How many signed URLs are kept for reuse (at most MAX_CACHED_URLS). */
  get cachedUrls (): number {
    return this.#urls.size
  }

  /**
   * Whether S3 serves this instance, by a GET of a key that does not exist
   * (below the key prefix): NoSuchKey says the bucket, the keys and the
   * signature are right. A role that may only read objects is answered
   * AccessDenied for a missing key: ready too. A HEAD would carry no error
   * code to tell that apart from a refused signature, hence a GET.
   */
  async probe (timeoutMs: number): Promise<StorageProbe> {
    try {
      const found = await this.#client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.#probeKey, Range: 'bytes=0-0' }), { abortSignal: AbortSignal.timeout(timeoutMs) })
      // An object by that name after all (one byte of it asked for): not read.
      ;(found.Body as Readable).destroy()
      return { state: 'ok' }
    } catch (error) {
      const status = s3Status(error)
      if (status === undefined) return { state: 'unreachable', detail: describeNoAnswer(error) }
      const code = s3Code(error)
      if (READABLE.has(code)) return { state: 'ok' }
      const detail = `S3 answered ${status} ${code}`
      // S3 itself failing or asking to slow down: every instance sees the same.
      if (status >= 500 || status === 429 || code === 'SlowDown') return { state: 'unreachable', detail }
      return { state: 'misconfigured', detail }
    }
  }

  close (): void {
    this.#reads.sockets?.close()
    this.#client.destroy()
    if (this.#presignClient !== this.#client) this.#presignClient.destroy()
  }
}

/**
 * The streaming route's GetObject over the service's own sockets, signed by
 * `signer` (one for S3_ENDPOINT, the one for handed-out URLs when that is
 * the same endpoint), for an http: endpoint (S3 on the same network: Ceph RGW, MinIO, the emulator).
 * A TLS endpoint, AWS's own included, is read through the SDK (exported
 * for its unit test).
 */
export function socketReads (s3: S3Config, signer: UrlSigner, onRequest: S3RequestObserver | undefined): SocketReads | undefined {
  if (s3.endpoint === undefined || new URL(s3.endpoint).protocol !== 'http:') return undefined
  return new SocketReads({
    connectTimeoutMs: s3.connectTimeoutMs,
    // Dated back like a handed-out URL, so that a clock running ahead of S3's or behind it by up to a minute does not matter.
    sign: async (key) => await signer.sign({ key, contentDisposition: undefined, contentType: undefined, signingDate: new Date(Date.now() - CLOCK_SKEW_SECONDS * 1000), expiresInSeconds: 3 * CLOCK_SKEW_SECONDS }),
    onAnswer: onRequest === undefined ? undefined : (outcome, seconds) => { onRequest('GetObject', outcome, seconds) }
  })
}
