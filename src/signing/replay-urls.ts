// Handed-out URLs, reused within windows. Time is cut into windows of
// `reuseSeconds`: every request in one window, on every instance signing with
// the same key, gets the same URL, valid until the window's start plus the
// TTL, so at least TTL - window is left when it is handed out, and a browser
// or a CDN can cache the download. Whatever signs (S3, a CDN) sits behind the
// UrlSigner seam and decides how long its URLs may live.
import type { ReplayObject } from '../model/replay-object.js'
import { inSpan, type TraceParent } from '../observability/telemetry.js'
import type { SignedUrl, UrlSigner } from './url-signer.js'

/** Signed URLs kept for reuse, one per object and download headers. */
export const MAX_CACHED_URLS = 10_000

export interface ReplayUrlsOptions {
  ttlSeconds: number
  /** URLs are signed for windows of this many seconds and reused within one; 0: every URL is signed when asked for. */
  reuseSeconds: number
}

interface CachedUrl {
  windowStart: number
  /** What the URL was signed for, besides the key. */
  contentDisposition: string
  contentType: string | undefined
  signed: Readonly<SignedUrl>
  /** Cut short by credentials about to expire: signed again until fresh ones arrive. */
  cutShort: boolean
}

export class ReplayUrls {
  readonly ttlSeconds: number
  readonly reuseSeconds: number
  private readonly signer: UrlSigner
  readonly #urls = new Map<string, CachedUrl>()

  constructor (signer: UrlSigner, { ttlSeconds, reuseSeconds }: ReplayUrlsOptions) {
    this.signer = signer
    this.ttlSeconds = ttlSeconds
    this.reuseSeconds = reuseSeconds
  }

  /** The handed-out URLs are https:. */
  get secure (): boolean {
    return this.signer.secure
  }

  /** The URL of this window, when one was signed already for the object (presign signs one when not). */
  reusedUrl (object: ReplayObject, now: Date | number = Date.now()): Readonly<SignedUrl> | undefined {
    if (this.reuseSeconds === 0) return undefined
    // By key; a URL made for another download name or type (two games, one object) is not reused.
    const cached = this.#urls.get(object.key)
    if (cached === undefined || cached.cutShort || cached.contentDisposition !== object.contentDisposition || cached.contentType !== object.contentType) return undefined
    const seconds = Math.floor(Number(now) / 1000)
    return cached.windowStart === seconds - (seconds % this.reuseSeconds) ? cached.signed : undefined
  }

  /** A GET URL of the replay object: this window's, signed now when it was not yet. */
  async presign (object: ReplayObject, { now = Date.now(), trace }: { now?: Date | number, trace?: TraceParent } = {}): Promise<Readonly<SignedUrl>> {
    const reused = this.reusedUrl(object, now)
    if (reused !== undefined) return reused
    const seconds = Math.floor(Number(now) / 1000)
    const windowStart = this.reuseSeconds > 0 ? seconds - (seconds % this.reuseSeconds) : seconds
    // A span only when a URL is signed: one handed out again is a lookup in memory.
    return await inSpan(trace, 'replay.sign', { 'http.request.method': 'GET', 'replay.signer': this.signer.kind }, async () => await this.signNow(object, windowStart))
  }

  private async signNow (object: ReplayObject, windowStart: number): Promise<Readonly<SignedUrl>> {
    const { signed, cutShort } = await this.signer.signWindow(object, windowStart, this.ttlSeconds)
    if (this.reuseSeconds > 0) {
      this.#urls.delete(object.key)
      if (this.#urls.size >= MAX_CACHED_URLS) this.#urls.delete(this.#urls.keys().next().value as string)
      this.#urls.set(object.key, { windowStart, contentDisposition: object.contentDisposition, contentType: object.contentType, signed, cutShort })
    }
    return signed
  }

  /** How many signed URLs are kept for reuse (at most MAX_CACHED_URLS). */
  get cachedUrls (): number {
    return this.#urls.size
  }
}
