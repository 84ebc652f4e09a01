// CloudFront signed URLs (canned policy) for a distribution in front of the
// bucket. The URL is the distribution's base, the object's key escaped as S3
// signs it, and the same response-* parameters as S3's own URL, which the
// distribution forwards to S3; only the host and the signature differ. A
// CloudFront signature is not bound to a method, so a HEAD of a handed-out
// URL works as well as its GET.
//
// Signing is an RSA signature (about 0.3 ms, a dozen times S3's SHA-256 and
// HMAC): the reuse windows in front of the signer (replay-urls.ts) make it rare.
import { getSignedCookies } from '@aws-sdk/cloudfront-signer'
import { MAX_PRESIGN_TTL_SECONDS, type CdnConfig } from '../config/index.js'
import type { ReplayObject } from '../model/replay-object.js'
import { CLOCK_SKEW_SECONDS, keyPath, queryString, responseParams } from './url-parts.js'
import type { UrlSigner, WindowUrl } from './url-signer.js'

export class CloudFrontUrlSigner implements UrlSigner {
  readonly kind = 'cloudfront'
  readonly secure: boolean

  constructor (private readonly cdn: CdnConfig) {
    this.secure = new URL(cdn.url).protocol === 'https:'
  }

  /**
   * The URL handed out for a window: valid until the window's start plus the
   * TTL, and CLOCK_SKEW_SECONDS more (a canned policy has an end and no
   * start, so an edge whose clock runs ahead of the service's would otherwise
   * cut the URL short), never longer than PRESIGN_TTL_SECONDS's maximum in
   * all. No credentials expire: a CDN URL is never cut short.
   */
  async signWindow (object: ReplayObject, windowStart: number, ttlSeconds: number): Promise<WindowUrl> {
    const skew = Math.min(CLOCK_SKEW_SECONDS, MAX_PRESIGN_TTL_SECONDS - ttlSeconds)
    const expiresAt = windowStart + ttlSeconds
    return {
      signed: { url: this.sign(object, expiresAt + skew), method: 'GET', expiresAt: new Date(expiresAt * 1000) },
      cutShort: false
    }
  }

  /** A signed URL of `object` that CloudFront accepts before `dateLessThan` (Unix seconds). */
  sign (object: Pick<ReplayObject, 'key' | 'contentDisposition' | 'contentType' | 'contentEncoding'>, dateLessThan: number): string {
    // A handed-out URL always names its download, so the query is never empty.
    const resource = `${this.cdn.url}/${keyPath(object.key)}?${queryString(responseParams(object))}`
    // getSignedUrl would decode and re-escape each path segment with
    // encodeURIComponent, leaving !'()* bare: the URL would no longer be the
    // one S3's signer makes. getSignedCookies signs the same canned policy
    // over the resource exactly as given, and the URL gets the three
    // parameters getSignedUrl would add, in its order.
    const signed = getSignedCookies({
      url: resource,
      keyPairId: this.cdn.keyPairId,
      // node:crypto signs with a KeyObject as well; a PEM string would be parsed
      // again for every URL, which costs three times the signature itself.
      privateKey: this.cdn.privateKey as unknown as string,
      dateLessThan: new Date(dateLessThan * 1000)
    })
    return `${resource}&Expires=${dateLessThan}&Key-Pair-Id=${this.cdn.keyPairId}&Signature=${signed['CloudFront-Signature']}`
  }
}

/** The signer of handed-out URLs the settings ask for: CloudFront's when a CDN is configured, else none (S3's own). */
export function cdnSigner (cdn: CdnConfig | undefined): UrlSigner | undefined {
  return cdn === undefined ? undefined : new CloudFrontUrlSigner(cdn)
}
