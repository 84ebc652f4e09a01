// The only module of the service that talks to S3: a read of the object, a
// description of it, a readiness probe, and the signer of the URLs handed out
// for it. Its S3 clients are private; the routes never build S3 requests
// themselves. (The bucket:setup command, which administers the bucket, has a
// client of its own.) openStorage (open-storage.ts) puts it together.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { LRUCache } from 'lru-cache'
import type { Readable } from 'node:stream'
import type { LookupCacheConfig } from '../config/index.js'
import type { ReplayUrls } from '../signing/replay-urls.js'
import { headObject, readObject, type ObjectHead, type ObjectRead, type ReadOptions, type ReadTarget } from './object-reads.js'
import { describeNoAnswer, isMissingCredentials, s3Code, s3Status } from './s3-errors.js'

/** Why the probe failed when the SDK's chain found no credentials, and where they may come from. */
export const NO_CREDENTIALS = 'no S3 credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or give the instance or container a role)'

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
  /** S3_ENDPOINT's client: every request the service itself sends. */
  client: S3Client
  /** The URLs handed out for the objects. */
  urls: ReplayUrls
  bucket: string
  keyPrefix: string
  firstByteTimeoutMs: number
  /** The streaming route's own sockets, when the endpoint allows them (see open-storage.ts). */
  sockets?: ReadTarget['sockets']
  /** How long what HeadObject said of an object is kept (a recorded replay does not change); left out, nothing is kept. */
  headCache?: LookupCacheConfig | undefined
  /** Closes what the storage was opened with (clients, sockets). */
  close: () => void
}

export class ReplayStorage {
  readonly bucket: string
  /** Signs the GET URLs handed out (by S3, or a CDN), reused within windows. */
  readonly urls: ReplayUrls
  readonly #client: S3Client
  readonly #reads: ReadTarget
  readonly #heads: LRUCache<string, ObjectHead> | undefined
  readonly #missTtlMs: number
  /** A key below the prefix that no replay has: what the readiness probe asks for. */
  readonly #probeKey: string
  readonly #close: () => void

  constructor ({ client, urls, bucket, keyPrefix, firstByteTimeoutMs, sockets, headCache, close }: ReplayStorageOptions) {
    this.bucket = bucket
    this.urls = urls
    this.#client = client
    this.#reads = { client, bucket, firstByteTimeoutMs, sockets }
    this.#heads = headCache === undefined || headCache.size === 0 ? undefined : new LRUCache({ max: headCache.size, ttl: headCache.ttlSeconds * 1000 })
    this.#missTtlMs = (headCache?.missTtlSeconds ?? 0) * 1000
    this.#probeKey = `${keyPrefix}replay-gate-readiness-probe`
    this.#close = close
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
      if (isMissingCredentials(error)) return { state: 'misconfigured', detail: NO_CREDENTIALS }
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
    this.#close()
  }
}
