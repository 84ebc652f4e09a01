// Opens the replay storage: the one factory that server.ts, local mode, the
// tests and the benches use. It makes the S3 clients (one for S3_ENDPOINT,
// one more only when clients reach S3 elsewhere), the signer of handed-out
// URLs, and the streaming route's own sockets where the endpoint allows them.
import type { LookupCacheConfig, S3Config } from '../config/index.js'
import type { S3RequestObserver } from '../model/s3-request.js'
import { ReplayUrls } from '../signing/replay-urls.js'
import type { UrlSigner } from '../signing/url-signer.js'
import { directReads } from './direct-reads.js'
import { ReplayStorage } from './replay-storage.js'
import { createS3Client, type Credentials } from './s3-client.js'
import { S3UrlSigner } from './s3-url-signer.js'

export interface StorageOptions {
  s3: S3Config
  /** How long a handed-out URL is valid (PRESIGN_TTL_SECONDS). */
  presignTtlSeconds: number
  /** Handed-out URLs are reused within windows this long (0: never). */
  presignReuseSeconds?: number
  /** Signs the handed-out URLs instead of S3 (a CDN); left out, S3's own SigV4 signer for S3_PUBLIC_ENDPOINT. */
  signer?: UrlSigner | undefined
  /** Left out: the SDK's default provider chain (environment, profile, container or instance role). */
  credentials?: Credentials | undefined
  /** How long what HeadObject said of an object is kept; left out, nothing is kept. */
  headCache?: LookupCacheConfig | undefined
  /** Told of each request sent to S3 (the metrics' S3 latency); signing sends none. */
  onRequest?: S3RequestObserver | undefined
}

export function openStorage ({ s3, presignTtlSeconds, presignReuseSeconds = 0, signer: urlSigner, credentials, headCache, onRequest }: StorageOptions): ReplayStorage {
  const common = { region: s3.region, forcePathStyle: s3.forcePathStyle, connectTimeoutMs: s3.connectTimeoutMs, credentials }
  const client = createS3Client({ ...common, endpoint: s3.endpoint, onRequest })
  // Never sends a request but one at start: it signs URLs for the public endpoint.
  const publicClient = s3.publicEndpoint === s3.endpoint ? client : createS3Client({ ...common, endpoint: s3.publicEndpoint })
  const signer = new S3UrlSigner(publicClient, s3.bucket, { secure: s3.publicEndpoint === undefined || new URL(s3.publicEndpoint).protocol === 'https:' })
  const sockets = directReads(s3, publicClient === client ? signer : new S3UrlSigner(client, s3.bucket), onRequest)
  return new ReplayStorage({
    client,
    urls: new ReplayUrls(urlSigner ?? signer, { ttlSeconds: presignTtlSeconds, reuseSeconds: presignReuseSeconds }),
    bucket: s3.bucket,
    keyPrefix: s3.keyPrefix,
    firstByteTimeoutMs: s3.firstByteTimeoutMs,
    sockets,
    headCache,
    close: () => {
      sockets?.close()
      client.destroy()
      if (publicClient !== client) publicClient.destroy()
    }
  })
}
