// The S3 settings: where the bucket is, for the service and for clients, and
// how presigned URLs are made.
import type { Reader } from './reader.js'
import { keyPrefixProblem } from '../replay/replay-key.js'

export const MAX_PRESIGN_TTL_SECONDS = 604_800 // SigV4's limit: seven days

export interface S3Config {
  bucket: string
  region: string
  /** Where the service itself reaches S3; undefined means AWS's own endpoint. */
  endpoint: string | undefined
  /** Where clients reach S3: the host presigned URLs point at. */
  publicEndpoint: string | undefined
  forcePathStyle: boolean
  keyPrefix: string
  connectTimeoutMs: number
  firstByteTimeoutMs: number
  /** The streaming route reads S3's bodies over sockets of its own (S3_DIRECT_READS); false: through the SDK. Left out: on. */
  directReads?: boolean
}

export interface StorageSettings {
  s3: S3Config
  presignTtlSeconds: number
  /** Signed URLs are reused within windows this long (0: never). */
  presignReuseSeconds: number
}

/** The bucket local mode uses when S3_BUCKET is not set. */
export const LOCAL_BUCKET = 'replays'

/** `requireBucket`: only a real bucket will do (the bucket:setup command). */
export function readStorage (read: Reader, { requireBucket = false } = {}): StorageSettings {
  const bucket = read.string('S3_BUCKET')
  if (bucket === undefined && requireBucket) {
    read.problem('S3_BUCKET', `S3_BUCKET is not set${read.setInstead('S3_BUCKET')}. This command sets up a real bucket (with S3_ENDPOINT, S3_REGION and AWS credentials); ` +
      'local mode needs none: its emulator gets the same rules at every start')
  }
  if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    read.problem('S3_BUCKET', `S3_BUCKET must be a valid bucket name (3-63 characters: lower-case letters, digits, dots, hyphens); got ${JSON.stringify(bucket)}`)
  }
  const endpoint = read.url('S3_ENDPOINT', ['http:', 'https:'])
  const presignTtlSeconds = read.integer('PRESIGN_TTL_SECONDS', 300, 1, MAX_PRESIGN_TTL_SECONDS)
  // A fifth of the TTL by default: a reused URL keeps at least 80% of its validity.
  const presignReuseSeconds = read.integer('PRESIGN_REUSE_SECONDS', Math.floor(presignTtlSeconds / 5), 0, MAX_PRESIGN_TTL_SECONDS)
  if (presignReuseSeconds >= presignTtlSeconds) {
    read.problem('PRESIGN_REUSE_SECONDS', `PRESIGN_REUSE_SECONDS must be less than PRESIGN_TTL_SECONDS (${presignTtlSeconds}), or 0; got ${presignReuseSeconds}`)
  }
  return {
    s3: {
      bucket: bucket ?? LOCAL_BUCKET,
      region: read.matching('S3_REGION', /^[a-z0-9-]+$/, 'a region name such as us-east-1') ?? 'us-east-1',
      endpoint,
      publicEndpoint: read.url('S3_PUBLIC_ENDPOINT', ['http:', 'https:']) ?? endpoint,
      // Custom endpoints (Ceph, MinIO, LocalStack) rarely have per-bucket DNS names.
      forcePathStyle: read.boolean('S3_FORCE_PATH_STYLE', endpoint !== undefined),
      keyPrefix: readKeyPrefix(read),
      connectTimeoutMs: read.integer('S3_CONNECT_TIMEOUT_MS', 3000, 1, 600_000),
      firstByteTimeoutMs: read.integer('S3_FIRST_BYTE_TIMEOUT_MS', 10_000, 1, 600_000),
      directReads: read.boolean('S3_DIRECT_READS', true)
    },
    presignTtlSeconds,
    presignReuseSeconds
  }
}

function readKeyPrefix (read: Reader): string {
  // Not trimmed: a prefix is a literal part of every object key.
  const raw = read.raw('S3_KEY_PREFIX')
  const problem = keyPrefixProblem(raw)
  if (problem !== undefined) {
    read.problem('S3_KEY_PREFIX', `S3_KEY_PREFIX cannot be used: ${problem}; got ${JSON.stringify(raw)}`)
    return ''
  }
  return raw
}
