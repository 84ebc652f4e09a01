// The only module that talks to S3. Routes ask it for a signed URL or a
// readiness probe and never build S3 requests themselves.
import { GetObjectCommand, HeadBucketCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import type { S3Config } from '../config.js'
import { createS3Client, type Credentials } from './s3-client.js'

export type PresignMethod = 'GET' | 'HEAD'

export interface ReplayObject {
  key: string
  contentDisposition: string
  contentType: string | undefined
}

export interface PresignedUrl {
  url: string
  method: PresignMethod
  expiresAt: Date
}

export interface StorageProbe {
  ok: boolean
  /** The HTTP status S3 answered with; any status means it is reachable. */
  status?: number
  error?: string
}

export interface ReplayStorageOptions {
  s3: S3Config
  presignTtlSeconds: number
  credentials?: Credentials | undefined
}

export class ReplayStorage {
  readonly bucket: string
  readonly presignTtlSeconds: number
  /** How long the streaming route waits for S3's first byte (connecting included). */
  readonly firstByteTimeoutMs: number
  /** Talks to S3 from the service (S3_ENDPOINT). */
  readonly client: S3Client
  /** Never sends a request: it only signs URLs for the public endpoint. */
  private readonly presignClient: S3Client

  constructor ({ s3, presignTtlSeconds, credentials }: ReplayStorageOptions) {
    this.bucket = s3.bucket
    this.presignTtlSeconds = presignTtlSeconds
    this.firstByteTimeoutMs = s3.firstByteTimeoutMs
    const common = { region: s3.region, forcePathStyle: s3.forcePathStyle, connectTimeoutMs: s3.connectTimeoutMs, credentials }
    this.client = createS3Client({ ...common, endpoint: s3.endpoint })
    this.presignClient = s3.publicEndpoint === s3.endpoint
      ? this.client
      : createS3Client({ ...common, endpoint: s3.publicEndpoint })
  }

  /** A URL for `method` on the replay object, valid for the configured TTL from `now`. */
  async presign (object: ReplayObject, method: PresignMethod, now = new Date()): Promise<PresignedUrl> {
    const input = {
      Bucket: this.bucket,
      Key: object.key,
      ResponseContentDisposition: object.contentDisposition,
      ...(object.contentType !== undefined && { ResponseContentType: object.contentType })
    }
    const command = method === 'GET' ? new GetObjectCommand(input) : new HeadObjectCommand(input)
    // Whole seconds: SigV4 dates have no fraction, and expiresAt must match the URL.
    const signingDate = new Date(Math.floor(now.getTime() / 1000) * 1000)
    const url = await getSignedUrl(this.presignClient, command, { expiresIn: this.presignTtlSeconds, signingDate })
    return { url, method, expiresAt: new Date(signingDate.getTime() + this.presignTtlSeconds * 1000) }
  }

  /**
   * Reachability, not permission: a least-privilege role may get 403 for the
   * bucket and still read every replay, so any HTTP answer counts as up.
   */
  async probe (timeoutMs: number): Promise<StorageProbe> {
    try {
      const result = await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: AbortSignal.timeout(timeoutMs) })
      /* c8 ignore next: the emulator answers HeadBucket with 403; a real S3 (the RGW run of .ci/run) gets here */
      return { ok: true, status: result.$metadata.httpStatusCode }
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
      if (status !== undefined) return { ok: true, status }
      return { ok: false, error: describeNetworkError(error) }
    }
  }

  close (): void {
    this.client.destroy()
    if (this.presignClient !== this.client) this.presignClient.destroy()
  }
}

function describeNetworkError (error: unknown): string {
  const { name, code, message } = error as { name?: string, code?: string, message?: string }
  if (name === 'TimeoutError' || name === 'AbortError') return 'no answer in time'
  return [code, message].filter((part) => part !== undefined && part !== '').join(': ')
}
