// Presigned GET URLs at the cost of the signature alone. The SDK's
// getSignedUrl runs a command's whole middleware stack for every URL; here
// the SigV4 query signature (AWS's "Authenticating Requests: Using Query
// Parameters") is computed directly: one SHA-256 and one HMAC per URL, with
// each day's signing key kept. The bucket's base URL and signing scope come
// from one getSignedUrl call at start, so the SDK's endpoint rules (path style,
// virtual hosts, regions) still decide them, and the URLs are the same, byte
// for byte, as getSignedUrl's (test/storage/s3-url-signer.test.ts).
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import type { AwsCredentialIdentity } from '@smithy/types'
import { createHash, createHmac } from 'node:crypto'
import { MAX_PRESIGN_TTL_SECONDS } from '../config/index.js'
import { credentialsMissing } from '../http/errors.js'
import type { ReplayObject } from '../model/replay-object.js'
import { CLOCK_SKEW_SECONDS, keyPath, queryString, responseParams } from '../signing/url-parts.js'
import type { UrlSigner, WindowUrl } from '../signing/url-signer.js'
import { isMissingCredentials } from './s3-errors.js'

// A URL's X-Amz-Date is set CLOCK_SKEW_SECONDS before its window starts (and
// its X-Amz-Expires that much longer), so that a server whose clock runs ahead
// of S3's never hands out a URL that S3 calls not yet valid.
export { CLOCK_SKEW_SECONDS }

export interface SignRequest {
  key: string
  /** Left out for the service's own reads, which S3 answers as stored. */
  contentDisposition: string | undefined
  contentType: string | undefined
  /** A compressed variant's coding: the answer's Content-Encoding is fixed by the URL, whatever the object's metadata says. */
  contentEncoding?: string | undefined
  signingDate: Date
  expiresInSeconds: number
}

interface Target {
  protocol: string
  hostname: string
  port: number | undefined
  /** hostname[:port], as the Host header and the URL have it */
  host: string
  basePath: string
  region: string
  service: string
}

const ALGORITHM = 'AWS4-HMAC-SHA256'
/** S3 does not hash what it serves: the payload is not signed, as getSignedUrl has it. */
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'

function hmac (key: Uint8Array | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest()
}

export class S3UrlSigner implements UrlSigner {
  readonly kind = 's3'
  /** Whether the URLs point at an https: endpoint (AWS's own, or S3_PUBLIC_ENDPOINT's scheme). */
  readonly secure: boolean
  private target: Promise<Target> | undefined
  private resolved: Target | undefined
  /** Each day's signing key, by day, scope and credentials: a few a day at most. */
  private readonly signingKeys = new Map<string, Buffer>()
  /** The client's own credential chain: the same provider, refreshed the same way. */
  readonly credentials: () => Promise<AwsCredentialIdentity>

  constructor (private readonly client: S3Client, private readonly bucket: string, { secure = true }: { secure?: boolean } = {}) {
    this.secure = secure
    const { config } = client
    this.credentials = async () => await config.credentials().catch(rethrow)
  }

  /**
   * The URL handed out for a window: dated CLOCK_SKEW_SECONDS before it and
   * valid that much longer (never past SigV4's seven days), and never
   * outliving the credentials that sign it.
   */
  async signWindow (object: ReplayObject, windowStart: number, ttlSeconds: number): Promise<WindowUrl> {
    const { expiration } = await this.credentials()
    const skew = Math.min(CLOCK_SKEW_SECONDS, MAX_PRESIGN_TTL_SECONDS - ttlSeconds)
    const signedAt = windowStart - skew
    const expiresAt = Math.min(windowStart + ttlSeconds, Math.floor((expiration?.getTime() ?? Infinity) / 1000))
    const url = await this.sign({
      key: object.key,
      contentDisposition: object.contentDisposition,
      contentType: object.contentType,
      contentEncoding: object.contentEncoding,
      signingDate: new Date(signedAt * 1000),
      expiresInSeconds: Math.max(1, expiresAt - signedAt)
    })
    return {
      signed: { url, method: 'GET', expiresAt: new Date(Math.max(signedAt + 1, expiresAt) * 1000) },
      cutShort: expiresAt < windowStart + ttlSeconds
    }
  }

  /**
   * The service's own read of `key` (the streaming route's sockets), dated
   * back like a handed-out URL so that a clock running ahead of S3's or
   * behind it by up to a minute does not matter.
   */
  async signRead (key: string, now = Date.now()): Promise<string> {
    return await this.sign({ key, contentDisposition: undefined, contentType: undefined, signingDate: new Date(now - CLOCK_SKEW_SECONDS * 1000), expiresInSeconds: 3 * CLOCK_SKEW_SECONDS })
  }

  /**
   * A GET URL, the only kind handed out: a URL is signed for one method, and
   * clients turn a HEAD into a GET on a redirect (HEAD is answered by the service).
   */
  async sign ({ key, contentDisposition, contentType, contentEncoding, signingDate, expiresInSeconds }: SignRequest): Promise<string> {
    const target = this.resolved ?? await this.resolve()
    const credentials = await this.credentials()
    // 20261126T101930Z and 20261126
    const longDate = signingDate.toISOString().replace(/[-:]|\.\d{3}/g, '')
    const shortDate = longDate.slice(0, 8)
    const scope = `${shortDate}/${target.region}/${target.service}/aws4_request`
    // S3 signs the path as sent: its keys are escaped once, not twice.
    const path = `${target.basePath}/${keyPath(key)}`
    const query: Record<string, string> = {
      'X-Amz-Algorithm': ALGORITHM,
      'X-Amz-Content-Sha256': UNSIGNED_PAYLOAD,
      'X-Amz-Credential': `${credentials.accessKeyId}/${scope}`,
      'X-Amz-Date': longDate,
      'X-Amz-Expires': String(expiresInSeconds),
      ...(credentials.sessionToken !== undefined && { 'X-Amz-Security-Token': credentials.sessionToken }),
      'X-Amz-SignedHeaders': 'host',
      ...responseParams({ contentDisposition, contentType, contentEncoding }),
      // The SDK marks a GetObject URL with x-id.
      'x-id': 'GetObject'
    }
    const canonicalQuery = queryString(query)
    const canonicalRequest = `GET\n${path}\n${canonicalQuery}\nhost:${target.host}\n\nhost\n${UNSIGNED_PAYLOAD}`
    const stringToSign = `${ALGORITHM}\n${longDate}\n${scope}\n${createHash('sha256').update(canonicalRequest, 'utf8').digest('hex')}`
    const signature = hmac(this.signingKey(credentials, shortDate, target), stringToSign).toString('hex')
    return `${target.protocol}//${target.host}${path}?${queryString({ ...query, 'X-Amz-Signature': signature })}`
  }

  /** SigV4's key for a day, region and service, derived from the secret once. */
  private signingKey (credentials: AwsCredentialIdentity, shortDate: string, target: Target): Buffer {
    const id = `${shortDate}\n${target.region}\n${target.service}\n${credentials.accessKeyId}\n${credentials.secretAccessKey}`
    let key = this.signingKeys.get(id)
    if (key === undefined) {
      key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, shortDate), target.region), target.service), 'aws4_request')
      // The oldest go first.
      if (this.signingKeys.size >= 16) this.signingKeys.delete(this.signingKeys.keys().next().value as string)
      this.signingKeys.set(id, key)
    }
    return key
  }

  private async resolve (): Promise<Target> {
    // A failure is not kept: credentials that arrive later (a role) sign the next URL.
    this.resolved = await (this.target ??= this.resolveTarget().catch((error: unknown) => {
      this.target = undefined
      return rethrow(error)
    }))
    return this.resolved
  }

  /** Where the SDK sends a GetObject of this bucket, and the scope it signs with. */
  private async resolveTarget (): Promise<Target> {
    const probeKey = 'k'
    const sample = new URL(await getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: probeKey }), { expiresIn: 60 }))
    // The credential scope: access key / date / region / service / aws4_request.
    const scope = String(sample.searchParams.get('X-Amz-Credential')).split('/')
    return {
      protocol: sample.protocol,
      hostname: sample.hostname,
      port: sample.port === '' ? undefined : Number(sample.port),
      host: sample.host,
      basePath: sample.pathname.slice(0, -(probeKey.length + 1)),
      region: scope[2] as string,
      service: scope[3] as string
    }
  }
}

/** No keys, profile or role: the contract's code for it, not an internal error; anything else as it is. */
function rethrow (error: unknown): never {
  throw isMissingCredentials(error) ? credentialsMissing(error) : error
}
