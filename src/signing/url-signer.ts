// The seam between the routes and whoever signs a download URL: S3 itself
// (SigV4 query signatures, storage/s3-url-signer.ts) today, a CDN beside it.
// A signer owns its own rules for how long a URL may live (clock skew, the
// credentials' expiry, its scheme's longest validity); the reuse windows in
// front of it (replay-urls.ts) are the same for every signer.
import type { ReplayObject } from '../model/replay-object.js'

/** A download URL as the routes hand it out. Only GET URLs exist: HEAD is answered by the service. */
export interface SignedUrl {
  url: string
  method: 'GET'
  expiresAt: Date
}

/** What a signer made for a window, and whether its life was cut short (then it is not reused). */
export interface WindowUrl {
  signed: SignedUrl
  /** Shorter than asked for by something that will change (credentials about to expire). */
  cutShort: boolean
}

export interface UrlSigner {
  /**
   * A GET URL of `object` meant to be valid from `windowStart` (Unix seconds)
   * for `ttlSeconds`, within the signer's own limits.
   */
  signWindow (object: ReplayObject, windowStart: number, ttlSeconds: number): Promise<WindowUrl>
  /** What the signer is, for logs and spans: `s3`, `cloudfront`. */
  readonly kind: string
  /** Its URLs are https: (a browser then accepts br and zstd through them). */
  readonly secure: boolean
}
