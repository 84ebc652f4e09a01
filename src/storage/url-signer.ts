// Presigned GET URLs at the cost of the signature alone. The SDK's
// getSignedUrl runs a command's whole middleware stack for every URL; here the
// request is built directly and handed to the SDK's own SigV4 signer
// (@smithy/signature-v4), which keeps each day's signing key. The bucket's base
// URL and signing scope come from one getSignedUrl call at start, so the SDK's
// endpoint rules (path style, virtual hosts, regions) still decide them, and
// the URLs are the same, byte for byte, as getSignedUrl's.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { SignatureV4 } from '@smithy/signature-v4'
import type { AwsCredentialIdentity, HttpRequest } from '@smithy/types'

export interface SignRequest {
  key: string
  contentDisposition: string
  contentType: string | undefined
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

/** As the SDK's presigner has it: a Content-Type header is never signed. */
const UNSIGNABLE_HEADERS = new Set(['content-type'])


interface SigningKeySource {
  getSigningKey: (credentials: AwsCredentialIdentity, region: string, shortDate: string, service?: string) => Promise<Uint8Array>
}

/**
 * Keeps each day's signing key by access key and session. The SDK's signer
 * caches keys too, but looks them up through an HMAC of the secret on every
 * call, a third of a URL's cost. If a later SDK renames the method, this
 * does nothing and signing stays correct, only slower.
 */
function keepDailyKeys (signer: SignatureV4): void {
  const source = signer as unknown as SigningKeySource
  const derive = source.getSigningKey.bind(signer)
  const keys = new Map<string, Promise<Uint8Array>>()
  source.getSigningKey = async (credentials, region, shortDate, service) => {
    const id = `${shortDate}\n${region}\n${String(service)}\n${credentials.accessKeyId}\n${credentials.sessionToken ?? ''}`
    let key = keys.get(id)
    if (key === undefined) {
      // A few a day at most: one per day, region and credentials. The oldest go first.
      if (keys.size >= 16) keys.delete(keys.keys().next().value as string)
      key = derive(credentials, region, shortDate, service)
      keys.set(id, key)
    }
    return await key
  }
}

export class UrlSigner {
  private target: Promise<Target> | undefined
  private resolved: Target | undefined
  private readonly signer: SignatureV4
  /** The client's own credential chain: the same provider, refreshed the same way. */
  readonly credentials: () => Promise<AwsCredentialIdentity>

  constructor (private readonly client: S3Client, private readonly bucket: string) {
    const { config } = client
    this.credentials = async () => await config.credentials()
    this.signer = new SignatureV4({
      credentials: this.credentials,
      region: config.region,
      service: 's3',
      sha256: config.sha256,
      // S3 signs the path as sent: its keys are already escaped once.
      uriEscapePath: false,
      applyChecksum: false
    })
    keepDailyKeys(this.signer)
  }

  /**
   * A GET URL, the only kind handed out: a URL is signed for one method, and
   * clients turn a HEAD into a GET on a redirect (HEAD is answered by the service).
   */
  async sign ({ key, contentDisposition, contentType, signingDate, expiresInSeconds }: SignRequest): Promise<string> {
    const target = this.resolved ?? await this.resolve()
    // The SDK marks a GetObject URL with x-id.
    const query: Record<string, string> = { 'response-content-disposition': contentDisposition, 'x-id': 'GetObject' }
    if (contentType !== undefined) query['response-content-type'] = contentType
    const request: HttpRequest = {
      method: 'GET',
      protocol: target.protocol,
      hostname: target.hostname,
      ...(target.port !== undefined && { port: target.port }),
      path: `${target.basePath}/${key.split('/').map(escapeUri).join('/')}`,
      query,
      headers: { host: target.host, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' }
    }
    const signed = await this.signer.presign(request, {
      signingDate,
      expiresIn: expiresInSeconds,
      signingRegion: target.region,
      signingService: target.service,
      unsignableHeaders: UNSIGNABLE_HEADERS
    })
    return `${target.protocol}//${target.host}${signed.path}?${queryString(signed.query as Record<string, string>)}`
  }

  private async resolve (): Promise<Target> {
    this.resolved = await (this.target ??= this.resolveTarget())
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

/** RFC 3986 escaping, as S3's path and query signing want it (encodeURIComponent leaves !'()* alone). */
function escapeUri (text: string): string {
  const escaped = encodeURIComponent(text)
  // Most values have none of these: a test is far cheaper than a replace with a callback.
  return RESERVED.test(escaped) ? escaped.replace(RESERVED_ALL, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : escaped
}

const RESERVED = /[!'()*]/
const RESERVED_ALL = /[!'()*]/g

function queryString (query: Record<string, string>): string {
  return Object.keys(query).sort().map((name) => `${escapeUri(name)}=${escapeUri(query[name] as string)}`).join('&')
}
